package nethost

import (
	"cmp"
	"slices"
)

// syncPlan is what Sync does to turn the live state into the desired
// one, in this order: unpublish, detach, attach, publish, then replace
// the records.
type syncPlan struct {
	Unexpose   []ForwardKey
	Detach     []string // VMs
	Attach     []Attachment
	Expose     []Forward
	Records    []Record
	SetRecords bool
}

// Empty reports whether live already is the desired state.
func (p syncPlan) Empty() bool {
	return len(p.Unexpose)+len(p.Detach)+len(p.Attach)+len(p.Expose) == 0 && !p.SetRecords
}

// planSync compares two checked states (see State.check). Attachments
// are keyed by VM, forwards by ForwardKey: one whose details changed is
// removed and made again; one that is the same is left alone, its
// traffic and connections untouched.
func planSync(live, want State) syncPlan {
	var p syncPlan
	liveA := map[string]Attachment{}
	for _, a := range live.Attachments {
		liveA[a.VM] = a
	}
	wantA := map[string]bool{}
	for _, a := range want.Attachments {
		wantA[a.VM] = true
		old, ok := liveA[a.VM]
		if ok && old == a {
			continue
		}
		if ok {
			p.Detach = append(p.Detach, a.VM)
		}
		p.Attach = append(p.Attach, a)
	}
	for _, a := range live.Attachments {
		if !wantA[a.VM] {
			p.Detach = append(p.Detach, a.VM)
		}
	}
	liveF := map[ForwardKey]Forward{}
	for _, f := range live.Forwards {
		liveF[f.Key()] = f
	}
	wantF := map[ForwardKey]bool{}
	for _, f := range want.Forwards {
		wantF[f.Key()] = true
		old, ok := liveF[f.Key()]
		if ok && old == f {
			continue
		}
		if ok {
			p.Unexpose = append(p.Unexpose, f.Key())
		}
		p.Expose = append(p.Expose, f)
	}
	for _, f := range live.Forwards {
		if !wantF[f.Key()] {
			p.Unexpose = append(p.Unexpose, f.Key())
		}
	}
	if !slices.Equal(live.Records, want.Records) {
		p.Records, p.SetRecords = want.Records, true
	}
	slices.Sort(p.Detach)
	slices.SortFunc(p.Attach, func(a, b Attachment) int { return cmp.Compare(a.VM, b.VM) })
	slices.SortFunc(p.Unexpose, func(a, b ForwardKey) int { return cmp.Compare(a.String(), b.String()) })
	slices.SortFunc(p.Expose, func(a, b Forward) int { return cmp.Compare(a.Key().String(), b.Key().String()) })
	return p
}
