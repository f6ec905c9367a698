/* Stand-in: the declarations of Apple's <dispatch/dispatch.h> that Berth uses,
   as a C (not Objective-C) translation unit sees them (see ../README). */
#ifndef STANDIN_DISPATCH_H
#define STANDIN_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct dispatch_queue_s *dispatch_queue_t;
typedef struct dispatch_queue_attr_s *dispatch_queue_attr_t;
typedef struct dispatch_semaphore_s *dispatch_semaphore_t;
typedef union {
	struct dispatch_object_s *_do;
	struct dispatch_queue_s *_dq;
	struct dispatch_queue_attr_s *_dqa;
	struct dispatch_semaphore_s *_dsema;
} dispatch_object_t __attribute__((__transparent_union__));

typedef uint64_t dispatch_time_t;
#define DISPATCH_TIME_NOW (0ull)
#define DISPATCH_TIME_FOREVER (~0ull)
#define DISPATCH_QUEUE_SERIAL NULL

typedef void (^dispatch_block_t)(void);

dispatch_queue_t dispatch_queue_create(const char *label, dispatch_queue_attr_t attr);
void dispatch_sync(dispatch_queue_t queue, dispatch_block_t block);
dispatch_semaphore_t dispatch_semaphore_create(intptr_t value);
intptr_t dispatch_semaphore_wait(dispatch_semaphore_t dsema, dispatch_time_t timeout);
intptr_t dispatch_semaphore_signal(dispatch_semaphore_t dsema);
dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta);
void dispatch_release(dispatch_object_t object);

#endif
