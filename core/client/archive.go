package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/berthvm/berth/core/api"
)

func archiveURL(ref string) string { return "/v1/containers/" + url.PathEscape(ref) + "/archive" }

func decodeStat(h http.Header) (api.PathStat, error) {
	var st api.PathStat
	raw, err := base64.StdEncoding.DecodeString(h.Get(api.PathStatHeader))
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		return st, fmt.Errorf("decode the path stat the daemon sent: %w", err)
	}
	return st, nil
}

// StatContainerPath describes a path in a container (docker's container
// path stat). It works on stopped containers too.
func (c *Client) StatContainerPath(ctx context.Context, ref, path string) (api.PathStat, error) {
	req, err := c.newRequest(ctx, http.MethodHead, archiveURL(ref), url.Values{"path": {path}}, nil)
	if err != nil {
		return api.PathStat{}, err
	}
	resp, err := c.send(req)
	if err != nil {
		return api.PathStat{}, err
	}
	resp.Body.Close()
	return decodeStat(resp.Header)
}

// CopyFromContainer returns a path's stat and its tar stream (top entry
// named after the path's last element). The caller closes the reader.
func (c *Client) CopyFromContainer(ctx context.Context, ref, path string) (api.PathStat, io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, archiveURL(ref), url.Values{"path": {path}}, nil)
	if err != nil {
		return api.PathStat{}, nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return api.PathStat{}, nil, err
	}
	st, err := decodeStat(resp.Header)
	if err != nil {
		resp.Body.Close()
		return st, nil, err
	}
	return st, resp.Body, nil
}

// CopyToContainer extracts the tar stream content into dir, an existing
// directory of the container. noOverwriteDirNonDir refuses to replace a
// directory with a non-directory or the reverse.
func (c *Client) CopyToContainer(ctx context.Context, ref, dir string, content io.Reader, noOverwriteDirNonDir bool) error {
	q := url.Values{"path": {dir}}
	if noOverwriteDirNonDir {
		q.Set("noOverwriteDirNonDir", "true")
	}
	req, err := c.newRequest(ctx, http.MethodPut, archiveURL(ref), q, nil)
	if err != nil {
		return err
	}
	req.Body = io.NopCloser(content)
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}
