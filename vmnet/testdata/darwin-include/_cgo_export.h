/* Stand-in: what cgo generates for vmnet_darwin.go's //export functions. */
#include <stdint.h>
extern void berthVmnetPacketsAvailable(uintptr_t handle, uint64_t n);
