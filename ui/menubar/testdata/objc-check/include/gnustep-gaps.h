/* stand-ins for Apple API that GNUstep lacks, each checked against darwinkit v0.5.0's bindings:
   appkit/dragging_destination_protocol.gen.go, pasteboard.gen.go:126/203, enumtypes.gen.go:3331,
   foundation/url.gen.go:705; pthread_main_np is macOS libc (pthread.h). */
#import <AppKit/AppKit.h>
int pthread_main_np(void);
@protocol NSDraggingDestination <NSObject>
@optional
- (NSDragOperation)draggingEntered:(id<NSDraggingInfo>)sender;
- (NSDragOperation)draggingUpdated:(id<NSDraggingInfo>)sender;
- (BOOL)prepareForDragOperation:(id<NSDraggingInfo>)sender;
- (BOOL)performDragOperation:(id<NSDraggingInfo>)sender;
@end
extern NSString *const NSPasteboardURLReadingFileURLsOnlyKey;
@interface NSPasteboard (Gaps)
- (NSArray *)readObjectsForClasses:(NSArray *)classArray options:(NSDictionary *)options;
- (BOOL)canReadObjectForClasses:(NSArray *)classArray options:(NSDictionary *)options;
@end
@interface NSURL (Gaps)
- (const char *)fileSystemRepresentation;
@end
