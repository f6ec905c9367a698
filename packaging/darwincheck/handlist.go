package main

// handEntry is Objective-C API that darwinkit v0.5.0 does not bind but
// Berth's darwin code may call through objc.Call: classes of frameworks
// darwinkit lacks (ServiceManagement, UserNotifications), methods newer
// than its symbol data (macOS 14), and the root class NSObject, which
// darwinkit models as objc.Object rather than as a generated class.
//
// Keep it short, one line per selector Berth uses or plans to use, each
// with Apple's page for it. A selector added here is a promise that it
// exists: copy it from the page, never from memory. The check trusts this
// list exactly as it trusts darwinkit's bindings.
type handEntry struct {
	class     string
	super     string   // "" when darwinkit binds the class already
	inst      []string // instance methods
	classSels []string // class methods
}

var handList = []handEntry{
	{
		// NSObject's own methods that Go code may send through objc.Call
		// to any object or class. Every other class descends from it.
		// https://developer.apple.com/documentation/objectivec/nsobject-swift.class?language=objc
		class: "NSObject",
		inst: []string{
			"init", "class", "superclass", "self", "description", "debugDescription", "hash", "isEqual:",
			"isKindOfClass:", "isMemberOfClass:", "respondsToSelector:", "conformsToProtocol:", "isProxy",
			"retain", "release", "autorelease", "retainCount", "dealloc", "copy", "mutableCopy",
			"performSelector:", "performSelector:withObject:", "performSelector:withObject:withObject:",
			"performSelectorOnMainThread:withObject:waitUntilDone:",
		},
		classSels: []string{"alloc", "new", "instancesRespondToSelector:", "isSubclassOfClass:"},
	},
	{
		// ServiceManagement, macOS 13: launch at login.
		// https://developer.apple.com/documentation/servicemanagement/smappservice?language=objc
		// +mainAppService: .../smappservice/mainapp
		// -status: .../smappservice/status-swift.property
		// -registerAndReturnError:: .../smappservice/register()
		// -unregisterAndReturnError:: .../smappservice/unregister()
		// +openSystemSettingsLoginItems: listed on the class page
		class:     "SMAppService",
		super:     "NSObject",
		inst:      []string{"status", "registerAndReturnError:", "unregisterAndReturnError:"},
		classSels: []string{"mainAppService", "openSystemSettingsLoginItems"},
	},
	{
		// UserNotifications, macOS 10.14.
		// https://developer.apple.com/documentation/usernotifications/unusernotificationcenter?language=objc
		// +currentNotificationCenter: .../unusernotificationcenter/current()
		// -requestAuthorizationWithOptions:completionHandler:: .../unusernotificationcenter/requestauthorization(options:completionhandler:)
		// -addNotificationRequest:withCompletionHandler:: .../unusernotificationcenter/add(_:withcompletionhandler:)
		class:     "UNUserNotificationCenter",
		super:     "NSObject",
		inst:      []string{"requestAuthorizationWithOptions:completionHandler:", "addNotificationRequest:withCompletionHandler:"},
		classSels: []string{"currentNotificationCenter"},
	},
	{
		// https://developer.apple.com/documentation/usernotifications/unnotificationcontent?language=objc
		class: "UNNotificationContent",
		super: "NSObject",
	},
	{
		// What a notification delegate is given.
		// https://developer.apple.com/documentation/usernotifications/unnotification?language=objc
		class: "UNNotification",
		super: "NSObject",
	},
	{
		// https://developer.apple.com/documentation/usernotifications/unnotificationresponse?language=objc
		class: "UNNotificationResponse",
		super: "NSObject",
	},
	{
		// https://developer.apple.com/documentation/usernotifications/unmutablenotificationcontent?language=objc
		// .../unmutablenotificationcontent/title, /body, /subtitle, /sound (the setters)
		class: "UNMutableNotificationContent",
		super: "UNNotificationContent",
		inst:  []string{"setTitle:", "setBody:", "setSubtitle:", "setSound:"},
	},
	{
		// https://developer.apple.com/documentation/usernotifications/unnotificationrequest?language=objc
		// +requestWithIdentifier:content:trigger:: .../unnotificationrequest/init(identifier:content:trigger:)
		class:     "UNNotificationRequest",
		super:     "NSObject",
		classSels: []string{"requestWithIdentifier:content:trigger:"},
	},
	{
		// https://developer.apple.com/documentation/usernotifications/unnotificationsound?language=objc
		// +defaultSound: .../unnotificationsound/default
		class:     "UNNotificationSound",
		super:     "NSObject",
		classSels: []string{"defaultSound"},
	},
	{
		// macOS 14, newer than darwinkit's symbol data: menu section headers.
		// https://developer.apple.com/documentation/appkit/nsmenuitem/sectionheader(withtitle:)?language=objc
		class:     "NSMenuItem",
		classSels: []string{"sectionHeaderWithTitle:"},
	},
}

// handTypes are Apple's C types that GNUstep's headers lack and Objective-C
// code names in declarations (where an unknown type stops clang's parse).
// The .m check declares them, with every class of the allow-list; values
// are the types' own (NS_OPTIONS(NSUInteger, …), NS_ENUM(NSInteger, …)).
var handTypes = []struct{ name, decl string }{
	// https://developer.apple.com/documentation/usernotifications/unauthorizationoptions?language=objc
	{"UNAuthorizationOptions", "typedef unsigned long UNAuthorizationOptions;"},
	// https://developer.apple.com/documentation/usernotifications/unnotificationpresentationoptions?language=objc
	{"UNNotificationPresentationOptions", "typedef unsigned long UNNotificationPresentationOptions;"},
	// https://developer.apple.com/documentation/servicemanagement/smappservice/status-swift.enum?language=objc
	{"SMAppServiceStatus", "typedef long SMAppServiceStatus;"},
}
