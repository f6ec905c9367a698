package cli

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/spf13/cobra"
)

func (a *app) networkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage networks: create, list, inspect, remove, prune, connect, disconnect",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.networkCreateCommand(), a.networkListCommand(), a.networkInspectCommand(),
		a.networkRemoveCommand(), a.networkPruneCommand(), a.networkConnectCommand(true), a.networkConnectCommand(false))
	return cmd
}

func (a *app) networkCreateCommand() *cobra.Command {
	var req api.NetworkCreateRequest
	var labels []string
	cmd := &cobra.Command{
		Use:   "create [flags] NAME",
		Short: "Create a network: its members reach each other by name, and nothing else reaches them",
		Example: "  berth network create app\n  berth network create --subnet 10.90.0.0/24 db\n" +
			"  berth network create --internal backend\n  berth network create --host-access dev",
		Args: exactArgs(1, "NAME"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			req.Name = args[0]
			var err error
			if req.Labels, err = parseLabels(labels); err != nil {
				return &usageError{err: err}
			}
			n, err := c.CreateNetwork(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.streams.Out, n.ID)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Subnet, "subnet", "", "the network's IPv4 subnet in CIDR form (default: a free /24 of 10.89.0.0/16)")
	f.BoolVar(&req.Internal, "internal", false, "no way out: members reach only each other")
	f.BoolVar(&req.HostAccess, "host-access", false, "let members reach the host's loopback services as host.berth.internal (off: the host stays private)")
	f.StringArrayVarP(&labels, "label", "l", nil, "set a label: KEY=VALUE")
	return cmd
}

func (a *app) networkListCommand() *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			list, err := c.Networks(cmd.Context())
			if err != nil {
				return err
			}
			if quiet {
				for _, n := range list {
					fmt.Fprintln(a.streams.Out, api.ShortID(n.ID))
				}
				return nil
			}
			if format != "" && format != "json" {
				for _, n := range list {
					if err := render(a.streams.Out, format, n, nil); err != nil {
						return err
					}
				}
				return nil
			}
			return render(a.streams.Out, format, list, func(w io.Writer) error { return printNetworks(w, list) })
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template applied to each network")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only network IDs")
	return cmd
}

func printNetworks(out io.Writer, list []api.Network) error {
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "NETWORK ID\tNAME\tDRIVER\tSUBNET\tGATEWAY\tSTATE\tCONTAINERS\tOPTIONS")
	for _, n := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", api.ShortID(n.ID), n.Name, n.Driver, n.Subnet, n.Gateway,
			n.State, len(n.Members), networkOptions(n))
	}
	return w.Flush()
}

// networkOptions lists what sets a network apart: default, internal,
// host access.
func networkOptions(n api.Network) string {
	var opts []string
	if n.Default {
		opts = append(opts, "default")
	}
	if n.Internal {
		opts = append(opts, "internal")
	}
	if n.HostAccess {
		opts = append(opts, "host-access")
	}
	if len(opts) == 0 {
		return "-"
	}
	return strings.Join(opts, ",")
}

func (a *app) networkInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] NETWORK...",
		Short: "Show networks' details as JSON: subnet, gateway, members and their addresses, published ports",
		Args:  minArgs(1, "NETWORK..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			var all []api.Network
			for _, ref := range args {
				n, err := c.Network(cmd.Context(), ref)
				if err != nil {
					return err
				}
				all = append(all, n)
			}
			if format == "" || format == "json" {
				return render(a.streams.Out, "json", all, nil)
			}
			for _, n := range all {
				if err := render(a.streams.Out, format, n, nil); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: 'json' (default) or a Go template, e.g. {{.Subnet}}")
	return cmd
}

func (a *app) networkRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK...",
		Aliases: []string{"remove"},
		Short:   "Remove networks no container uses",
		Args:    minArgs(1, "NETWORK..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			var errs []string
			for _, ref := range args {
				if err := c.RemoveNetwork(cmd.Context(), ref); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(a.streams.Out, ref)
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "\n"))
			}
			return nil
		}),
	}
}

func (a *app) networkPruneCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [-f]",
		Short: "Remove every network no container uses (the default network stays)",
		Args:  cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			if !force && isTerminal(a.streams.In) {
				if !a.confirm("This removes every network no container uses.") {
					return nil
				}
			}
			removed, err := c.PruneNetworks(cmd.Context())
			if err != nil {
				return err
			}
			if len(removed) > 0 {
				fmt.Fprintln(a.streams.Out, "Deleted Networks:")
				for _, n := range removed {
					fmt.Fprintln(a.streams.Out, n)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// networkConnectCommand is `network connect` (connect) or `network
// disconnect`.
func (a *app) networkConnectCommand(connect bool) *cobra.Command {
	use, short, verb := "connect NETWORK CONTAINER", "Connect a container to a network", "joins"
	if !connect {
		use, short, verb = "disconnect NETWORK CONTAINER", "Disconnect a container from a network", "leaves"
	}
	return &cobra.Command{
		Use:   use,
		Short: short + " (a running container changes networks when it restarts)",
		Args:  exactArgs(2, "NETWORK CONTAINER"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			do := c.ConnectNetwork
			if !connect {
				do = c.DisconnectNetwork
			}
			res, err := do(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if res.Restart {
				fmt.Fprintf(a.streams.Err, "Container %s is running: it %s network %s when it restarts (berth stop, then berth start).\n",
					args[1], verb, args[0])
			}
			return nil
		}),
	}
}

func (a *app) portCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short:   "List a container's published ports, or the host address of one",
		Example: "  berth port web\n  berth port web 80/tcp",
		Args:    rangeArgs(1, 2, "CONTAINER [PRIVATE_PORT[/PROTO]]"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			ctr, err := c.Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ports := append([]api.PortMapping(nil), ctr.Ports...)
			sort.SliceStable(ports, func(i, j int) bool { return ports[i].ContainerPort < ports[j].ContainerPort })
			if len(args) == 2 {
				p, proto, _ := strings.Cut(args[1], "/")
				if proto == "" {
					proto = "tcp"
				}
				n, err := strconv.Atoi(p)
				if err != nil {
					return &usageError{err: fmt.Errorf("port %q: want PORT or PORT/tcp or PORT/udp", args[1])}
				}
				found := false
				for _, m := range ports {
					if m.ContainerPort == n && m.Proto == proto {
						fmt.Fprintln(a.streams.Out, net.JoinHostPort(m.HostIP, strconv.Itoa(m.HostPort)))
						found = true
					}
				}
				if !found {
					return fmt.Errorf("no public port '%d/%s' published for %s: %w", n, proto, ctr.Name, api.ErrNotFound)
				}
				return nil
			}
			for _, m := range ports {
				fmt.Fprintf(a.streams.Out, "%d/%s -> %s\n", m.ContainerPort, m.Proto, net.JoinHostPort(m.HostIP, strconv.Itoa(m.HostPort)))
			}
			return nil
		}),
	}
}

// portList is docker's PORTS column: "0.0.0.0:8080-8081->80-81/tcp,
// [::]:53->53/udp", consecutive ports on the same address merged, sorted.
func portList(ports []api.PortMapping) string {
	ps := append([]api.PortMapping{}, ports...)
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.HostIP != b.HostIP || a.Proto != b.Proto {
			return a.HostIP+a.Proto < b.HostIP+b.Proto
		}
		return a.ContainerPort < b.ContainerPort
	})
	var out []string
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1].HostIP == ps[i].HostIP && ps[j+1].Proto == ps[i].Proto &&
			ps[j+1].ContainerPort == ps[j].ContainerPort+1 && ps[j+1].HostPort == ps[j].HostPort+1 {
			j++
		}
		host, ctr := strconv.Itoa(ps[i].HostPort), strconv.Itoa(ps[i].ContainerPort)
		if j > i {
			host += "-" + strconv.Itoa(ps[j].HostPort)
			ctr += "-" + strconv.Itoa(ps[j].ContainerPort)
		}
		proto := ps[i].Proto
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, fmt.Sprintf("%s->%s/%s", net.JoinHostPort(ps[i].HostIP, host), ctr, proto))
		i = j + 1
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
