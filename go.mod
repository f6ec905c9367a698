module github.com/berthvm/berth

go 1.26.0

require go.etcd.io/bbolt v1.5.0

require (
	github.com/Code-Hex/go-infinity-channel v1.0.0 // indirect
	github.com/Code-Hex/vz/v3 v3.7.1 // indirect
	golang.org/x/mod v0.27.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
