/* stand-in: libdispatch's two calls used (dispatch/queue.h) */
typedef void *dispatch_queue_t;
dispatch_queue_t dispatch_get_main_queue(void);
void dispatch_async(dispatch_queue_t queue, void (^block)(void));
