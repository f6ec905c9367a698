package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// imagesFixture: alpine with two names (newest), an app from a private
// registry, and a dangling image (oldest).
func imagesFixture() []api.Image {
	return []api.Image{
		{ID: "sha256:" + strings.Repeat("d", 64), Digest: "sha256:" + strings.Repeat("0", 64), Names: nil,
			Platform: "linux/amd64", Size: 999, Created: psNow.Add(-400 * 24 * time.Hour)},
		{ID: "sha256:" + strings.Repeat("a", 64), Digest: "sha256:" + strings.Repeat("1", 64),
			Names:       []string{"docker.io/library/alpine:3", "docker.io/library/alpine:latest"},
			RepoDigests: []string{"docker.io/library/alpine@sha256:" + strings.Repeat("2", 64)},
			Platform:    "linux/amd64", Size: 3_623_807, Created: psNow.Add(-90 * time.Second)},
		{ID: "sha256:" + strings.Repeat("b", 64), Digest: "sha256:" + strings.Repeat("3", 64),
			Names: []string{"127.0.0.1:5000/team/app:1"}, Platform: "linux/arm64", Size: 123_456_789, Created: psNow.Add(-3 * time.Hour)},
	}
}

func imagesOutput(t *testing.T, format, def string, filters []string, trunc bool) string {
	t.Helper()
	fixClock(t)
	f, err := parseKnownFilters(filters, imageFilterKeys...)
	if err != nil {
		return err.Error()
	}
	lf, err := parseListFormat(format, def)
	if err != nil {
		t.Fatal(err)
	}
	labels := func(im api.Image) map[string]string {
		if strings.Contains(im.ID, "bbbb") {
			return map[string]string{"team": "x"}
		}
		return nil
	}
	rows, err := imageRows(imagesFixture(), f, psNow, labels, trunc)
	if err != nil {
		return err.Error()
	}
	for i := range rows {
		r := rows[i].(imageRow)
		r.loc = time.UTC
		rows[i] = r
	}
	var b strings.Builder
	if err := lf.write(&b, imageRow{header: true}, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestImagesFormats(t *testing.T) {
	cases := []struct {
		name, format, def string
		filters           []string
		noTrunc           bool
		want              string
	}{
		{"default table", "", imagesDefaultTable, nil, false, "" +
			"REPOSITORY                TAG       IMAGE ID       CREATED              SIZE\n" +
			"alpine                    3         aaaaaaaaaaaa   About a minute ago   3.62MB\n" +
			"alpine                    latest    aaaaaaaaaaaa   About a minute ago   3.62MB\n" +
			"127.0.0.1:5000/team/app   1         bbbbbbbbbbbb   3 hours ago          123MB\n" +
			"<none>                    <none>    dddddddddddd   13 months ago        999B\n"},
		{"digests", "", imagesDigestsTable, []string{"reference=alpine:3"}, false, "" +
			"REPOSITORY   TAG       DIGEST                                                                    IMAGE ID       CREATED              SIZE\n" +
			"alpine       3         sha256:" + strings.Repeat("2", 64) + "   aaaaaaaaaaaa   About a minute ago   3.62MB\n"},
		{"template", "{{.Repository}}:{{.Tag}} {{.Size}} {{.Platform}}", "", []string{"dangling=false"}, false,
			"alpine:3 3.62MB linux/amd64\nalpine:latest 3.62MB linux/amd64\n127.0.0.1:5000/team/app:1 123MB linux/arm64\n"},
		{"no-trunc", "{{.ID}}", "", []string{"dangling=true"}, true, "sha256:" + strings.Repeat("d", 64) + "\n"},
		{"json", "json", "", []string{"reference=*/team/*"}, false,
			`{"Containers":"N/A","CreatedAt":"2026-11-27 09:00:00 +0000 UTC","CreatedSince":"3 hours ago","Digest":"sha256:` + strings.Repeat("3", 64) +
				`","ID":"bbbbbbbbbbbb","Platform":"linux/arm64","Repository":"127.0.0.1:5000/team/app","SharedSize":"N/A","Size":"123MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"123MB"}` + "\n"},
		{"reference by repository", "{{.Tag}}", "", []string{"reference=alpine"}, false, "3\nlatest\n"},
		{"reference OR", "{{.Tag}}", "", []string{"reference=alpine:latest", "reference=*app*"}, false, "latest\n"},
		{"label", "{{.ID}}", "", []string{"label=team=x"}, false, "bbbbbbbbbbbb\n"},
		{"before", "{{.ID}}", "", []string{"before=127.0.0.1:5000/team/app:1"}, false, "dddddddddddd\n"},
		{"since", "{{.ID}}", "", []string{"since=bbbb"}, false, "aaaaaaaaaaaa\naaaaaaaaaaaa\n"},
		{"until", "{{.ID}}", "", []string{"until=1h"}, false, "bbbbbbbbbbbb\ndddddddddddd\n"},
		{"unknown filter", "", "", []string{"color=red"}, false, "invalid filter 'color'"},
		{"bad dangling", "", "", []string{"dangling=maybe"}, false, "invalid filter 'dangling=maybe'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := imagesOutput(t, tc.format, tc.def, tc.filters, !tc.noTrunc)
			if !strings.HasPrefix(got, tc.want) || (!strings.HasPrefix(tc.want, "invalid") && got != tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
