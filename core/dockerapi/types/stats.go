package types

import (
	"time"

	"github.com/berthvm/berth/core/api"
)

// StatsJSON is one object of docker's GET /containers/{id}/stats (the
// Engine API's StatsResponse). Berth fills what its guest agent measures:
// CPU time, memory and process count, for the whole guest (the VM is the
// container). Network and block I/O are not measured yet: their fields
// stay empty, and docker stats shows 0B for them.
type StatsJSON struct {
	Name         string                  `json:"name,omitempty"`
	ID           string                  `json:"id,omitempty"`
	Read         time.Time               `json:"read"`
	PreRead      time.Time               `json:"preread"`
	PidsStats    PidsStats               `json:"pids_stats,omitempty"`
	BlkioStats   BlkioStats              `json:"blkio_stats,omitempty"`
	NumProcs     uint32                  `json:"num_procs"`
	StorageStats struct{}                `json:"storage_stats,omitempty"`
	CPUStats     CPUStats                `json:"cpu_stats,omitempty"`
	PreCPUStats  CPUStats                `json:"precpu_stats,omitempty"`
	MemoryStats  MemoryStats             `json:"memory_stats,omitempty"`
	Networks     map[string]NetworkStats `json:"networks,omitempty"`
}

// PidsStats counts a container's processes.
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats is docker's cgroup block I/O; Berth leaves it empty.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioStatEntry `json:"io_service_bytes_recursive"`
	IoServicedRecursive     []BlkioStatEntry `json:"io_serviced_recursive"`
	IoQueuedRecursive       []BlkioStatEntry `json:"io_queue_recursive"`
	IoServiceTimeRecursive  []BlkioStatEntry `json:"io_service_time_recursive"`
	IoWaitTimeRecursive     []BlkioStatEntry `json:"io_wait_time_recursive"`
	IoMergedRecursive       []BlkioStatEntry `json:"io_merged_recursive"`
	IoTimeRecursive         []BlkioStatEntry `json:"io_time_recursive"`
	SectorsRecursive        []BlkioStatEntry `json:"sectors_recursive"`
}

// BlkioStatEntry is one device's counter of one kind.
type BlkioStatEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// CPUStats is CPU time used, against the time the CPUs had (SystemUsage):
// docker's CPU % is the ratio of their growths between two samples,
// times OnlineCPUs.
type CPUStats struct {
	CPUUsage       CPUUsage       `json:"cpu_usage"`
	SystemUsage    uint64         `json:"system_cpu_usage,omitempty"`
	OnlineCPUs     uint32         `json:"online_cpus,omitempty"`
	ThrottlingData ThrottlingData `json:"throttling_data,omitempty"`
}

// CPUUsage is CPU time in nanoseconds. The guest reports its busy time
// only: not per CPU, nor split into user and kernel time.
type CPUUsage struct {
	TotalUsage        uint64   `json:"total_usage"`
	PercpuUsage       []uint64 `json:"percpu_usage,omitempty"`
	UsageInKernelmode uint64   `json:"usage_in_kernelmode"`
	UsageInUsermode   uint64   `json:"usage_in_usermode"`
}

// ThrottlingData is cgroup CPU throttling; a VM's CPUs are not throttled.
type ThrottlingData struct {
	Periods          uint64 `json:"periods"`
	ThrottledPeriods uint64 `json:"throttled_periods"`
	ThrottledTime    uint64 `json:"throttled_time"`
}

// MemoryStats is memory in bytes.
type MemoryStats struct {
	Usage    uint64            `json:"usage,omitempty"`
	MaxUsage uint64            `json:"max_usage,omitempty"`
	Stats    map[string]uint64 `json:"stats,omitempty"`
	Failcnt  uint64            `json:"failcnt,omitempty"`
	Limit    uint64            `json:"limit,omitempty"`
}

// NetworkStats is one interface's counters.
type NetworkStats struct {
	RxBytes   uint64 `json:"rx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	RxDropped uint64 `json:"rx_dropped"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxErrors  uint64 `json:"tx_errors"`
	TxDropped uint64 `json:"tx_dropped"`
}

// Stats is docker's stats object for ct from the sample cur and the one
// before it, pre (nil for a first sample: its precpu_stats stay zero, as
// docker's first streamed object). A nil cur is a container that is not
// running: docker's zeroed object with only its name and id.
func Stats(ct api.Container, cur, pre *api.ContainerStats) StatsJSON {
	out := StatsJSON{Name: "/" + ct.Name, ID: ct.ID}
	if cur == nil {
		return out
	}
	out.Read = cur.Time
	out.CPUStats = cpuStats(ct, *cur)
	out.PidsStats.Current = uint64(cur.Processes)
	out.MemoryStats = MemoryStats{Usage: cur.MemoryUsed, Limit: cur.MemoryTotal}
	if pre != nil {
		out.PreRead = pre.Time
		out.PreCPUStats = cpuStats(ct, *pre)
	}
	return out
}

// cpuStats is a sample's CPU time against what the VM's CPUs have had
// since the container started: wall time times CPUs, which is what the
// host's system_cpu_usage is to a container under docker (every CPU's
// time, busy or not). Docker's CPU % then comes out as the guest's busy
// time over wall time, 100% a CPU.
func cpuStats(ct api.Container, st api.ContainerStats) CPUStats {
	out := CPUStats{CPUUsage: CPUUsage{TotalUsage: st.CPUNanos}, OnlineCPUs: uint32(st.CPUs)}
	if up := st.Time.Sub(ct.Started); up > 0 && st.CPUs > 0 {
		out.SystemUsage = uint64(up.Nanoseconds()) * uint64(st.CPUs)
	}
	return out
}
