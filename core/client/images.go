package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthvm/berth/core/api"
)

// Images lists the local images.
func (c *Client) Images(ctx context.Context) ([]api.Image, error) {
	var out []api.Image
	err := c.do(ctx, http.MethodGet, "/v1/images", nil, nil, &out)
	return out, err
}

// ImageInspect returns the details of a local image.
func (c *Client) ImageInspect(ctx context.Context, ref string) (api.ImageDetail, error) {
	var out api.ImageDetail
	err := c.do(ctx, http.MethodGet, "/v1/images/inspect", url.Values{"ref": {ref}}, nil, &out)
	return out, err
}

// ImageHistory returns how a local image was built, newest step first.
func (c *Client) ImageHistory(ctx context.Context, ref string) ([]api.ImageHistoryEntry, error) {
	var out []api.ImageHistoryEntry
	err := c.do(ctx, http.MethodGet, "/v1/images/history", url.Values{"ref": {ref}}, nil, &out)
	return out, err
}

// ImagePull pulls an image, reporting per-layer progress.
func (c *Client) ImagePull(ctx context.Context, req api.ImagePullRequest, progress api.ProgressFunc) (api.Image, error) {
	var out api.Image
	err := c.stream(ctx, http.MethodPost, "/v1/images/pull", nil, req, progress, &out)
	return out, err
}

// ImagePush pushes a local image.
func (c *Client) ImagePush(ctx context.Context, req api.ImagePushRequest, progress api.ProgressFunc) (api.Image, error) {
	var out api.Image
	err := c.stream(ctx, http.MethodPost, "/v1/images/push", nil, req, progress, &out)
	return out, err
}

// ImageLoad imports the archive or layout at req.Path (which the daemon
// reads, so it must be absolute).
func (c *Client) ImageLoad(ctx context.Context, req api.ImageLoadRequest, progress api.ProgressFunc) ([]api.Image, error) {
	var out []api.Image
	err := c.stream(ctx, http.MethodPost, "/v1/images/load", nil, req, progress, &out)
	return out, err
}

// ImageSave writes a `docker load` tarball of refs to w. A transfer that
// breaks midway is an error: the caller must discard what w received.
func (c *Client) ImageSave(ctx context.Context, w io.Writer, refs ...string) error {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/images/save", url.Values{"ref": refs}, nil)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("save: the transfer broke (%v); see the daemon log: %w", err, api.ErrUnavailable)
	}
	return nil
}

// ImageTag gives an image another name.
func (c *Client) ImageTag(ctx context.Context, source, target string) (api.Image, error) {
	var out api.Image
	err := c.do(ctx, http.MethodPost, "/v1/images/tag", nil, api.ImageTagRequest{Source: source, Target: target}, &out)
	return out, err
}

// ImageRemove removes a name or an image.
func (c *Client) ImageRemove(ctx context.Context, ref string, force bool) (api.ImageRemoved, error) {
	var out api.ImageRemoved
	err := c.do(ctx, http.MethodDelete, "/v1/images", url.Values{"ref": {ref}, "force": {strconv.FormatBool(force)}}, nil, &out)
	return out, err
}

// ImagePrune removes unused images and unreferenced blobs and disks.
func (c *Client) ImagePrune(ctx context.Context, all bool) (api.ImagePruned, error) {
	var out api.ImagePruned
	err := c.do(ctx, http.MethodPost, "/v1/images/prune", nil, api.ImagePruneRequest{All: all}, &out)
	return out, err
}

// RegistryLogin checks and stores registry credentials.
func (c *Client) RegistryLogin(ctx context.Context, req api.RegistryLoginRequest) (api.RegistryLogin, error) {
	var out api.RegistryLogin
	err := c.do(ctx, http.MethodPost, "/v1/registry/login", nil, req, &out)
	return out, err
}

// RegistryLogout forgets registry credentials.
func (c *Client) RegistryLogout(ctx context.Context, registry string) error {
	return c.do(ctx, http.MethodPost, "/v1/registry/logout", nil, api.RegistryLogoutRequest{Registry: registry}, nil)
}
