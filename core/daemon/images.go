package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image"
	"github.com/berthvm/berth/core/state"
)

// imageRoutes registers the image and registry endpoints. References go in
// the query (?ref=), since they hold slashes and colons.
func (d *Daemon) imageRoutes() {
	d.route("GET /v1/images", func(r *http.Request) (any, error) { return d.images.List(r.Context()) })
	d.route("GET /v1/images/inspect", func(r *http.Request) (any, error) {
		return d.images.Inspect(r.Context(), r.URL.Query().Get("ref"))
	})
	d.route("GET /v1/images/history", func(r *http.Request) (any, error) {
		return d.images.History(r.Context(), r.URL.Query().Get("ref"))
	})
	d.streamRoute("POST /v1/images/pull", d.imagePull)
	d.streamRoute("POST /v1/images/push", d.imagePush)
	d.streamRoute("POST /v1/images/load", d.imageLoad)
	d.mux.HandleFunc("GET /v1/images/save", d.imageSave)
	d.route("POST /v1/images/tag", d.imageTag)
	d.route("DELETE /v1/images", d.imageRemove)
	d.route("POST /v1/images/prune", d.imagePrune)
	d.route("POST /v1/registry/login", d.registryLogin)
	d.route("POST /v1/registry/logout", d.registryLogout)
}

// imagesInUse tells the image store which containers use an image.
func (d *Daemon) imagesInUse(_ context.Context, digest string) ([]string, error) {
	var names []string
	err := d.db.View(func(tx *state.Tx) error {
		recs, err := tx.Containers()
		if err != nil {
			return err
		}
		for _, c := range recs {
			if c.ImageID == digest {
				names = append(names, c.Name)
			}
		}
		return nil
	})
	return names, err
}

func (d *Daemon) imageEvent(action, id, name string) {
	d.bus.Publish(api.Event{Type: api.EventImage, Action: action, ID: id, Name: name})
}

func (d *Daemon) imagePull(r *http.Request, progress api.ProgressFunc) (any, error) {
	var req api.ImagePullRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return d.pullImage(r.Context(), req.Ref, image.PullOptions{
		RegistryOptions: image.RegistryOptions{Scheme: req.Scheme}, Platform: req.Platform, Progress: progress})
}

// pullImage, like the other verbs below, is the one path both APIs take,
// so each publishes the events docker would.
func (d *Daemon) pullImage(ctx context.Context, ref string, opts image.PullOptions) (api.Image, error) {
	im, err := d.images.Pull(ctx, ref, opts)
	if err != nil {
		return im, err
	}
	d.imageEvent("pull", im.Digest, ref)
	return im, nil
}

func (d *Daemon) imagePush(r *http.Request, progress api.ProgressFunc) (any, error) {
	var req api.ImagePushRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if _, err := d.pushImage(r.Context(), req.Ref, req.Target, image.PushOptions{
		RegistryOptions: image.RegistryOptions{Scheme: req.Scheme}, Progress: progress}); err != nil {
		return nil, err
	}
	return d.images.Get(r.Context(), req.Ref)
}

func (d *Daemon) pushImage(ctx context.Context, ref, target string, opts image.PushOptions) (api.ImagePushed, error) {
	res, err := d.images.Push(ctx, ref, target, opts)
	if err != nil {
		return res, err
	}
	if target == "" {
		target = ref
	}
	d.imageEvent("push", res.Digest, target)
	return res, nil
}

func (d *Daemon) imageLoad(r *http.Request, progress api.ProgressFunc) (any, error) {
	var req api.ImageLoadRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	loaded, err := d.images.Load(r.Context(), req.Path, image.LoadOptions{Platform: req.Platform, Progress: progress})
	if err != nil {
		return nil, err
	}
	d.loadEvents(loaded)
	return loaded, nil
}

func (d *Daemon) loadEvents(loaded []api.Image) {
	for _, im := range loaded {
		name := ""
		if len(im.Names) > 0 {
			name = im.Names[0]
		}
		d.imageEvent("load", im.Digest, name)
	}
}

// imageSave streams a docker-load tarball of ?ref=… (repeatable). The refs
// are resolved before the first byte, so a bad one gets a proper error; a
// failure midway aborts the connection, which the client reports.
func (d *Daemon) imageSave(w http.ResponseWriter, r *http.Request) {
	refs := r.URL.Query()["ref"]
	if len(refs) == 0 {
		d.writeError(w, r, fmt.Errorf("save: name at least one image: %w", api.ErrInvalidArgument))
		return
	}
	for _, ref := range refs {
		if _, err := d.images.Get(r.Context(), ref); err != nil {
			d.writeError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if err := d.images.Save(r.Context(), w, refs...); err != nil {
		d.log.Info("save failed midway", "refs", refs, "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (d *Daemon) imageTag(r *http.Request) (any, error) {
	var req api.ImageTagRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := d.tagImage(r.Context(), req.Source, req.Target); err != nil {
		return nil, err
	}
	return d.images.Get(r.Context(), req.Target)
}

func (d *Daemon) tagImage(ctx context.Context, source, target string) error {
	if err := d.images.Tag(ctx, source, target); err != nil {
		return err
	}
	im, err := d.images.Get(ctx, target)
	if err != nil {
		return err
	}
	d.imageEvent("tag", im.Digest, target)
	return nil
}

func (d *Daemon) imageRemove(r *http.Request) (any, error) {
	q := r.URL.Query()
	force, _ := strconv.ParseBool(q.Get("force"))
	return d.removeImage(r.Context(), q.Get("ref"), force)
}

func (d *Daemon) removeImage(ctx context.Context, ref string, force bool) (api.ImageRemoved, error) {
	res, err := d.images.Remove(ctx, ref, force)
	if err != nil {
		return res, err
	}
	for _, n := range res.Untagged {
		d.imageEvent("untag", "", n)
	}
	for _, id := range res.Deleted {
		d.imageEvent("delete", id, ref)
	}
	return res, nil
}

func (d *Daemon) imagePrune(r *http.Request) (any, error) {
	var req api.ImagePruneRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return d.pruneImages(r.Context(), req.All, nil)
}

func (d *Daemon) pruneImages(ctx context.Context, all bool, match func(api.Image, api.ImageConfig) bool) (api.ImagePruned, error) {
	res, err := d.images.PruneFunc(ctx, all, match)
	for _, n := range res.Untagged {
		d.imageEvent("untag", "", n)
	}
	for _, id := range res.Deleted {
		d.imageEvent("delete", id, "")
	}
	return res, err
}

func (d *Daemon) registryLogin(r *http.Request) (any, error) {
	var req api.RegistryLoginRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return d.images.Login(r.Context(), req.Registry, req.Username, req.Password, image.RegistryOptions{Scheme: req.Scheme})
}

func (d *Daemon) registryLogout(r *http.Request) (any, error) {
	var req api.RegistryLogoutRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return nil, d.images.Logout(r.Context(), req.Registry)
}
