// The Objective-C that Go cannot provide through darwinkit v0.5.0 without a
// libffi closure (darwinkit issue 286: any closure AppKit calls aborts the
// process when built with Go 1.25 or later): a class for the status
// button's drop target, and the UserNotifications delegate, authorization
// and posting, whose completion handlers are blocks. Each calls back into
// Go only through the //export functions of bridge_darwin.go, which
// recover from panics. Manual reference counting (cgo compiles without
// ARC). Every function here that touches AppKit runs on the main thread.

#import <AppKit/AppKit.h>
#import <UserNotifications/UserNotifications.h>
#include <dispatch/dispatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "_cgo_export.h"

int berthIsMainThread(void) {
	return pthread_main_np() != 0;
}

// berthMenuTrackingName is the name of NSMenuDidBeginTrackingNotification
// (began) or NSMenuDidEndTrackingNotification, read from AppKit's own
// constants; the caller frees it.
char *berthMenuTrackingName(int began) {
	char *name;
	@autoreleasepool {
		NSString *s = began ? NSMenuDidBeginTrackingNotification : NSMenuDidEndTrackingNotification;
		name = strdup([s UTF8String]);
	}
	return name;
}

// strdupError copies an error's description for Go, which frees it; NULL
// for no error.
static char *strdupError(NSError *err) {
	if (err == nil) {
		return NULL;
	}
	const char *s = [[err localizedDescription] UTF8String];
	return strdup(s != NULL ? s : "unknown error");
}

// ---- Drop target -----------------------------------------------------

// BerthDropTarget is the delegate of the status button's window, which
// Go registers for file URLs: it takes drags of files and folders and
// hands their paths to Go (berthDropped) as one buffer of NUL-terminated
// paths.
@interface BerthDropTarget : NSObject <NSWindowDelegate, NSDraggingDestination>
@end

static NSArray *fileURLClasses(void) {
	return [NSArray arrayWithObject:[NSURL class]];
}

static NSDictionary *fileURLOptions(void) {
	return [NSDictionary dictionaryWithObject:[NSNumber numberWithBool:YES]
	                                   forKey:NSPasteboardURLReadingFileURLsOnlyKey];
}

@implementation BerthDropTarget

- (NSDragOperation)draggingEntered:(id<NSDraggingInfo>)sender {
	NSPasteboard *pb = [sender draggingPasteboard];
	if ([pb canReadObjectForClasses:fileURLClasses() options:fileURLOptions()]) {
		return NSDragOperationCopy;
	}
	return NSDragOperationNone;
}

- (NSDragOperation)draggingUpdated:(id<NSDraggingInfo>)sender {
	return [self draggingEntered:sender];
}

- (BOOL)prepareForDragOperation:(id<NSDraggingInfo>)sender {
	return YES;
}

- (BOOL)performDragOperation:(id<NSDraggingInfo>)sender {
	NSArray *urls = [[sender draggingPasteboard] readObjectsForClasses:fileURLClasses() options:fileURLOptions()];
	NSMutableData *buf = [NSMutableData data];
	NSUInteger i;
	for (i = 0; i < [urls count]; i++) {
		NSURL *url = [urls objectAtIndex:i];
		const char *path = [url fileSystemRepresentation];
		if (path != NULL && path[0] != '\0') {
			[buf appendBytes:path length:strlen(path) + 1];
		}
	}
	if ([buf length] == 0) {
		return NO;
	}
	berthDropped((char *)[buf bytes], (int)[buf length]);
	return YES;
}

@end

static BerthDropTarget *dropTarget; // the window's delegate is weak: held here

// berthDropTarget returns the one drop target (main thread).
void *berthDropTarget(void) {
	if (dropTarget == nil) {
		dropTarget = [[BerthDropTarget alloc] init];
	}
	return dropTarget;
}

// ---- Notifications ---------------------------------------------------
// Called only from Berth.app's main executable: Go decides that
// (inAppBundle) before calling any of these, because
// +currentNotificationCenter aborts the process anywhere else.

// BerthNoteDelegate lets notifications show while Berth is the active app
// (its menu open): without a delegate macOS shows none then.
@interface BerthNoteDelegate : NSObject <UNUserNotificationCenterDelegate>
@end

@implementation BerthNoteDelegate

- (void)userNotificationCenter:(UNUserNotificationCenter *)center
       willPresentNotification:(UNNotification *)notification
         withCompletionHandler:(void (^)(UNNotificationPresentationOptions options))completionHandler {
	completionHandler(UNNotificationPresentationOptionBanner | UNNotificationPresentationOptionList |
	                  UNNotificationPresentationOptionSound);
}

- (void)userNotificationCenter:(UNUserNotificationCenter *)center
    didReceiveNotificationResponse:(UNNotificationResponse *)response
             withCompletionHandler:(void (^)(void))completionHandler {
	completionHandler();
}

@end

static BerthNoteDelegate *noteDelegate; // the center's delegate is weak: held here

// Authorization is asked for once, at the first notification; until the
// answer comes, requests wait in pending. All of this state lives on the
// main queue.
enum { authNotAsked, authAsking, authAnswered };
static int authState = authNotAsked;
static NSMutableArray *pending;

// berthNotifySetUp makes BerthNoteDelegate the center's delegate (main
// thread, before the run loop starts, as Apple asks).
void berthNotifySetUp(void) {
	@autoreleasepool {
		if (noteDelegate == nil) {
			noteDelegate = [[BerthNoteDelegate alloc] init];
		}
		[[UNUserNotificationCenter currentNotificationCenter] setDelegate:noteDelegate];
	}
}

static void addRequest(UNNotificationRequest *req) {
	[[UNUserNotificationCenter currentNotificationCenter] addNotificationRequest:req
	                                                       withCompletionHandler:^(NSError *err) {
		                                                       if (err != nil) {
			                                                       berthNotifyFailed(strdupError(err));
		                                                       }
	                                                       }];
}

// enqueue runs on the main queue.
static void enqueue(UNNotificationRequest *req) {
	if (authState == authAnswered) {
		addRequest(req);
		return;
	}
	if (pending == nil) {
		pending = [[NSMutableArray alloc] init];
	}
	[pending addObject:req];
	if (authState == authAsking) {
		return;
	}
	authState = authAsking;
	UNAuthorizationOptions opts = UNAuthorizationOptionAlert | UNAuthorizationOptionSound;
	[[UNUserNotificationCenter currentNotificationCenter]
	    requestAuthorizationWithOptions:opts
	                  completionHandler:^(BOOL granted, NSError *err) {
		                  berthNotifyAuthorized(granted ? 1 : 0, strdupError(err));
		                  dispatch_async(dispatch_get_main_queue(), ^{
			                  authState = authAnswered;
			                  NSMutableArray *reqs = pending;
			                  pending = nil;
			                  if (granted) {
				                  NSUInteger i;
				                  for (i = 0; i < [reqs count]; i++) {
					                  addRequest([reqs objectAtIndex:i]);
				                  }
			                  }
			                  [reqs release];
		                  });
	                  }];
}

// berthNotifyPost posts a notification now (any thread). The identifier
// makes a newer notification replace an older one with the same
// identifier. The strings are copied before it returns.
void berthNotifyPost(const char *ident, const char *title, const char *body, int sound) {
	@autoreleasepool {
		UNMutableNotificationContent *content = [[[UNMutableNotificationContent alloc] init] autorelease];
		[content setTitle:[NSString stringWithUTF8String:title]];
		[content setBody:[NSString stringWithUTF8String:body]];
		if (sound) {
			[content setSound:[UNNotificationSound defaultSound]];
		}
		UNNotificationRequest *req = [UNNotificationRequest requestWithIdentifier:[NSString stringWithUTF8String:ident]
		                                                                  content:content
		                                                                  trigger:nil];
		// The block retains req when dispatch_async copies it.
		dispatch_async(dispatch_get_main_queue(), ^{
			enqueue(req);
		});
	}
}
