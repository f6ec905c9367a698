package menubar

// objcName is an Objective-C class, or a message to one, that this
// package's Go code names in a string (objc.GetClass, objc.Sel in
// objc.Call) rather than through darwinkit's generated methods, whose
// names darwinkit's bindings vouch for. A misspelled one type-checks and
// raises an NSException at run time, so each is listed here with Apple's
// documentation, for the darwin gate's allow-list (darwinkit v0.5.0 binds
// none of these: ServiceManagement is not in it). TestMenuObjCNames keeps
// the list and the _darwin.go files in step and checks that each
// selector's colons match its arguments.
type objcName struct {
	Class string
	// Selector is "" for the class itself; "+name" for a class method,
	// "-name" for an instance method.
	Selector string
	Doc      string
}

var objcNames = []objcName{
	{"SMAppService", "", "https://developer.apple.com/documentation/servicemanagement/smappservice"},
	{"SMAppService", "+mainAppService", "https://developer.apple.com/documentation/servicemanagement/smappservice/mainappservice"},
	{"SMAppService", "+openSystemSettingsLoginItems", "https://developer.apple.com/documentation/servicemanagement/smappservice/opensystemsettingsloginitems()"},
	{"SMAppService", "-status", "https://developer.apple.com/documentation/servicemanagement/smappservice/status-swift.property"},
	{"SMAppService", "-registerAndReturnError:", "https://developer.apple.com/documentation/servicemanagement/smappservice/register()"},
	{"SMAppService", "-unregisterAndReturnError:", "https://developer.apple.com/documentation/servicemanagement/smappservice/unregister()"},
}
