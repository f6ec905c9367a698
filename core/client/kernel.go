package client

import (
	"context"
	"net/http"

	"github.com/berthvm/berth/core/api"
)

// Kernel says which guest kernel containers boot by default.
func (c *Client) Kernel(ctx context.Context) (api.KernelInfo, error) {
	var out api.KernelInfo
	err := c.do(ctx, http.MethodGet, "/v1/system/kernel", nil, nil, &out)
	return out, err
}

// SetKernel makes every container without --kernel boot the kernel at
// req.Path, or, with req.Default, the built-in kernel again.
func (c *Client) SetKernel(ctx context.Context, req api.KernelSetRequest) (api.KernelInfo, error) {
	var out api.KernelInfo
	err := c.do(ctx, http.MethodPut, "/v1/system/kernel", nil, req, &out)
	return out, err
}

// FetchKernel downloads the built-in kernel now (it is otherwise fetched
// on the first container start), reporting progress.
func (c *Client) FetchKernel(ctx context.Context, progress api.ProgressFunc) (api.KernelInfo, error) {
	var out api.KernelInfo
	err := c.stream(ctx, http.MethodPost, "/v1/system/kernel/fetch", nil, nil, progress, &out)
	return out, err
}
