/* NOT Apple's file: a stand-in for the part of UserNotifications that bridge_darwin.m uses,
   transcribed from Apple's UNUserNotificationCenter.h and UNNotificationRequest.h as quoted in
   Berth's notes. It checks the file's use of the API against these declarations only. */
#import <Foundation/Foundation.h>
typedef NSUInteger UNAuthorizationOptions;
enum { UNAuthorizationOptionBadge = 1 << 0, UNAuthorizationOptionSound = 1 << 1, UNAuthorizationOptionAlert = 1 << 2 };
typedef NSUInteger UNNotificationPresentationOptions;
enum { UNNotificationPresentationOptionSound = 1 << 1, UNNotificationPresentationOptionList = 1 << 3, UNNotificationPresentationOptionBanner = 1 << 4 };
@interface UNNotificationSound : NSObject
+ (UNNotificationSound *)defaultSound;
@end
@interface UNNotificationContent : NSObject
@end
@interface UNMutableNotificationContent : UNNotificationContent
- (void)setTitle:(NSString *)t;
- (void)setSubtitle:(NSString *)t;
- (void)setBody:(NSString *)t;
- (void)setSound:(UNNotificationSound *)s;
@end
@interface UNNotificationTrigger : NSObject
@end
@interface UNNotificationRequest : NSObject
+ (instancetype)requestWithIdentifier:(NSString *)identifier content:(UNNotificationContent *)content trigger:(UNNotificationTrigger *)trigger;
@end
@interface UNNotification : NSObject
@end
@interface UNNotificationResponse : NSObject
@end
@class UNUserNotificationCenter;
@protocol UNUserNotificationCenterDelegate <NSObject>
@optional
- (void)userNotificationCenter:(UNUserNotificationCenter *)center willPresentNotification:(UNNotification *)notification withCompletionHandler:(void (^)(UNNotificationPresentationOptions options))completionHandler;
- (void)userNotificationCenter:(UNUserNotificationCenter *)center didReceiveNotificationResponse:(UNNotificationResponse *)response withCompletionHandler:(void (^)(void))completionHandler;
@end
@interface UNUserNotificationCenter : NSObject
+ (UNUserNotificationCenter *)currentNotificationCenter;
- (id<UNUserNotificationCenterDelegate>)delegate;
- (void)setDelegate:(id<UNUserNotificationCenterDelegate>)d;
- (void)requestAuthorizationWithOptions:(UNAuthorizationOptions)options completionHandler:(void (^)(BOOL granted, NSError *error))completionHandler;
- (void)addNotificationRequest:(UNNotificationRequest *)request withCompletionHandler:(void (^)(NSError *error))completionHandler;
@end
