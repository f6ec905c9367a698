/* Stand-in: the declarations of Apple's <xpc/xpc.h> that Berth uses, as a C
   (not Objective-C) translation unit sees them (see ../README). */
#ifndef STANDIN_XPC_H
#define STANDIN_XPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void *xpc_object_t;

xpc_object_t xpc_dictionary_create(const char *const *keys, const xpc_object_t *values, size_t count);
void xpc_dictionary_set_uint64(xpc_object_t xdict, const char *key, uint64_t value);
void xpc_dictionary_set_string(xpc_object_t xdict, const char *key, const char *string);
void xpc_dictionary_set_bool(xpc_object_t xdict, const char *key, bool value);
uint64_t xpc_dictionary_get_uint64(xpc_object_t xdict, const char *key);
const char *xpc_dictionary_get_string(xpc_object_t xdict, const char *key);
void xpc_release(xpc_object_t object);

#endif
