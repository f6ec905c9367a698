package image

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestHistoryOf(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l1 := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: "aa"}, Size: 10}
	l2 := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: "bb"}, Size: 20}
	hist := []v1.History{
		{Created: v1.Time{Time: t0}, CreatedBy: "ADD rootfs /"},
		{CreatedBy: "ENV A=1", EmptyLayer: true},
		{CreatedBy: "RUN make", Comment: "c"},
	}
	got := historyOf(hist, []v1.Descriptor{l1, l2})
	if len(got) != 3 || got[0].CreatedBy != "RUN make" || got[0].Size != 20 || got[0].Comment != "c" ||
		got[1].Size != 0 || !got[1].EmptyLayer || got[2].LayerDigest != "sha256:aa" || !got[2].Created.Equal(t0) {
		t.Fatalf("historyOf = %+v", got)
	}
	// No history at all: one step per layer, newest first.
	got = historyOf(nil, []v1.Descriptor{l1, l2})
	if len(got) != 2 || got[0].Size != 20 || got[1].Size != 10 {
		t.Fatalf("historyOf without history = %+v", got)
	}
}
