package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) registryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Log in to and out of image registries",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.registryLoginCommand(), a.registryLogoutCommand())
	return cmd
}

func (a *app) registryLoginCommand() *cobra.Command {
	var user, password, scheme string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [flags] [REGISTRY]",
		Short: "Check and save credentials for a registry (default Docker Hub)",
		Long: "Checks the credentials against the registry, then saves them in the docker credential\n" +
			"helper your docker config names (credsStore/credHelpers), else in a 0600 file in Berth's data dir.",
		Example: "  berth registry login -u me ghcr.io\n  echo \"$TOKEN\" | berth registry login -u me --password-stdin registry.example.com",
		Args:    rangeArgs(0, 1, "[REGISTRY]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := "docker.io"
			if len(args) == 1 {
				reg = args[0]
			}
			if password != "" && passwordStdin {
				return &usageError{err: fmt.Errorf("--password and --password-stdin exclude each other")}
			}
			in := bufio.NewReader(a.streams.In)
			if user == "" {
				if !isTerminal(a.streams.In) {
					return &usageError{err: fmt.Errorf("give the username with -u")}
				}
				fmt.Fprint(a.streams.Out, "Username: ")
				line, _ := in.ReadString('\n')
				user = strings.TrimSpace(line)
			}
			switch {
			case passwordStdin:
				raw, err := io.ReadAll(in)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(raw), "\r\n")
			case password == "" && isTerminal(a.streams.In):
				fmt.Fprint(a.streams.Out, "Password: ")
				raw, err := term.ReadPassword(int(a.streams.In.(*os.File).Fd()))
				fmt.Fprintln(a.streams.Out)
				if err != nil {
					return err
				}
				password = string(raw)
			case password == "":
				return &usageError{err: fmt.Errorf("give the password with --password-stdin (or -p)")}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.RegistryLogin(cmd.Context(), api.RegistryLoginRequest{Registry: reg, Username: user, Password: password, Scheme: scheme})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Out, "Login to %s succeeded (saved in %s)\n", res.Registry, res.Store)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "username")
	f.StringVarP(&password, "password", "p", "", "password (prefer --password-stdin: this one shows in ps)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	f.StringVar(&scheme, "scheme", "", "http or https (default: https, plain http allowed for loopback and private addresses)")
	return cmd
}

func (a *app) registryLogoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [REGISTRY]",
		Short: "Forget the saved credentials for a registry (default Docker Hub)",
		Args:  rangeArgs(0, 1, "[REGISTRY]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := "docker.io"
			if len(args) == 1 {
				reg = args[0]
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.RegistryLogout(cmd.Context(), reg); err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Out, "Removed the credentials for %s\n", reg)
			return nil
		},
	}
}
