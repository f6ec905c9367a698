package client

import (
	"context"
	"net/http"

	"github.com/berthvm/berth/core/api"
)

// Ping checks that a daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/v1/_ping", nil, nil, nil)
}

// Version returns the daemon's build.
func (c *Client) Version(ctx context.Context) (api.Version, error) {
	var v api.Version
	err := c.do(ctx, http.MethodGet, "/v1/version", nil, nil, &v)
	return v, err
}

// SystemInfo returns the daemon's view of the host and itself.
func (c *Client) SystemInfo(ctx context.Context) (api.SystemInfo, error) {
	var info api.SystemInfo
	err := c.do(ctx, http.MethodGet, "/v1/system/info", nil, nil, &info)
	return info, err
}

// StopDaemon asks the daemon to finish its requests and exit.
func (c *Client) StopDaemon(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/system/stop", nil, nil, nil)
}

// DiskUsage counts what images, containers and volumes take on disk.
func (c *Client) DiskUsage(ctx context.Context) (api.DiskUsage, error) {
	var out api.DiskUsage
	err := c.do(ctx, http.MethodGet, "/v1/system/df", nil, nil, &out)
	return out, err
}
