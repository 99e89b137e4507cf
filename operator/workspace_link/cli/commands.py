"""The ``workspace-link`` command: make keys and link manifests, and start the other modes.

Linking two workspaces should be one command plus two ``kubectl apply``: ``link`` generates
both key pairs (and, with ``--issue-ca``, a throwaway CA and the listener's serving
certificate) and writes one file per side. ``keygen`` makes a single key pair for admins who
wire SyncConfigs by hand or rotate a key.

Private material is written only to files created with mode 0600, never printed unless asked
with ``--stdout-private``. Every input is checked before anything is generated or written, so
a bad option exits 2 with one line naming it and leaves the disk untouched.

``demo``, ``run`` and ``operator`` belong to other modules; they are imported only when their
subcommand runs, so the key tools work even where the operator's dependencies are broken.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.metadata
import json
import os
import pathlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TextIO

from cryptography.hazmat.primitives.asymmetric import rsa

import workspace_link
from workspace_link.cli import manifests
from workspace_link.core import certs, errors, keys, resources

PROG = "workspace-link"
DISTRIBUTION = "workspace-link"
USAGE_ERROR = 2


def installed_version() -> str:
    """The installed distribution's version; the package's own when it runs uninstalled."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return workspace_link.__version__


class _UsageError(Exception):
    """Bad command-line input: one line for the user, exit code 2."""


class _Parser(argparse.ArgumentParser):
    # argparse's own errors print the whole usage block; one line naming the option is easier to read.
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {self.prog} --help)")


def _option(field: str | None) -> str:
    """The option that set a ``LinkRequest``/certs field: ``b_url`` -> ``--b-url``."""
    if field is None:
        return ""
    return "--" + field.replace("_", "-") if field.isidentifier() and field.islower() else field


def _spec_message(exc: errors.SpecError) -> str:
    if exc.field is None:
        return str(exc)
    prefix = f"{exc.field}: "
    text = str(exc)
    return _option(exc.field) + ": " + (text[len(prefix) :] if text.startswith(prefix) else text)


@contextlib.contextmanager
def _progress(what: str, *, err: TextIO) -> Iterator[None]:
    err.write(f"{what} ... ")
    err.flush()
    yield
    err.write("done\n")
    err.flush()


def _generate_key(bits: int, *, label: str, err: TextIO) -> rsa.RSAPrivateKey:
    with _progress(f"generating {bits}-bit key for {label}", err=err):
        return keys.generate_private_key(bits)


def _check_bits(bits: int) -> None:
    if bits < keys.MIN_BITS:
        raise errors.SpecError(f"must be at least {keys.MIN_BITS}, got {bits}", field="bits")
    if bits > 8192:
        raise errors.SpecError(f"must be at most 8192, got {bits}", field="bits")


def _check_out_dir(out_dir: pathlib.Path, files: Sequence[pathlib.Path], *, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise errors.SpecError(f"{out_dir} exists and is not a directory", field="out_dir")
    if not force:
        for path in files:
            if path.exists():
                raise errors.SpecError(
                    f"{path} exists (it may hold keys in use); pass --force to overwrite", field="out_dir"
                )


def _write(path: pathlib.Path, text: str, *, private: bool) -> None:
    """Write ``text``; a private file is created 0600 from the start, never chmod-ed after."""
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        # An existing file keeps its old mode through O_CREAT; make sure it is ours now.
        os.fchmod(handle.fileno(), mode)
        handle.write(text)


def _describe(bodies: Sequence[resources.Body]) -> str:
    return ", ".join(f"{b['kind']} {b['metadata']['namespace']}/{b['metadata']['name']}" for b in bodies)


# --- keygen ---------------------------------------------------------------------------------


def _cmd_keygen(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    namespace = manifests.validate_namespace(args.namespace, field="namespace")
    peer_namespace = manifests.validate_namespace(
        args.peer_namespace or args.namespace, field="peer_namespace"
    )
    name = manifests.validate_name(args.name, field="name", max_length=253 - len("-private"))
    _check_bits(args.bits)
    out_dir = pathlib.Path(args.out_dir)
    private_path = out_dir / f"{name}-private.yaml"
    public_path = out_dir / f"{name}-public.yaml"
    _check_out_dir(
        out_dir, [public_path] if args.stdout_private else [private_path, public_path], force=args.force
    )

    key = _generate_key(args.bits, label=f"{namespace}/{name}", err=err)
    private = manifests.private_key_secret(
        name=f"{name}-private", namespace=namespace, private_pem=keys.private_key_pem(key), link=name
    )
    public = manifests.public_key_secret(
        name=f"{name}-public",
        namespace=peer_namespace,
        public_pem=keys.public_key_pem(key.public_key()),
        link=name,
    )
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_id = keys.key_id(key.public_key())
    if args.stdout_private:
        out.write(manifests.to_yaml([private], header=f"PRIVATE KEY of {namespace}/{name} ({key_id})."))
    else:
        _write(
            private_path,
            manifests.to_yaml(
                [private],
                header=f"PRIVATE KEY of {namespace}/{name} ({key_id}).\nApply it, then keep it safe.",
            ),
            private=True,
        )
        out.write(f"wrote {private_path} (mode 0600): {_describe([private])}\n")
    _write(
        public_path, manifests.to_yaml([public], header=f"Public key {key_id}, for the peer."), private=False
    )
    if not args.stdout_private:
        out.write(f"wrote {public_path}: {_describe([public])}\n")
        out.write(f"key id: {key_id}\n")
        out.write(
            "next:\n"
            f"  kubectl apply -f {private_path}   # on this side; ownPrivateKey.secretName: {name}-private\n"
            f"  kubectl apply -f {public_path}   # on the peer; remotePublicKey.secretName: {name}-public\n"
        )
    else:
        err.write(f"wrote {public_path}: {_describe([public])}\nkey id: {key_id}\n")
    return 0


# --- link -----------------------------------------------------------------------------------


def _side_files(
    out_dir: pathlib.Path, a_namespace: str, b_namespace: str
) -> tuple[pathlib.Path, pathlib.Path]:
    # Two clusters may use the same namespace name for both workspaces: keep the files apart.
    if a_namespace == b_namespace:
        return out_dir / f"a-{a_namespace}.yaml", out_dir / f"b-{b_namespace}.yaml"
    return out_dir / f"{a_namespace}.yaml", out_dir / f"{b_namespace}.yaml"


def _cmd_link(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    if args.listener_host and not args.issue_ca:
        raise errors.SpecError("only makes sense with --issue-ca", field="listener_host")
    request = manifests.LinkRequest(
        a_namespace=args.a_namespace,
        b_namespace=args.b_namespace,
        b_url=args.b_url,
        name_a=args.name_a,
        name_b=args.name_b,
        role=args.role,
        sync_interval=args.sync_interval,
        send_all_executions=args.send_all_executions,
        a_keys_namespace=args.a_keys_namespace or args.keys_namespace,
        b_keys_namespace=args.b_keys_namespace or args.keys_namespace,
        tls_secret_name=args.tls_secret_name,
        tls_namespace=args.tls_namespace,
        listener_hosts=tuple(args.listener_host or ()),
    ).validated()
    if args.issue_ca and not request.listener_hosts:
        # The host the dialer connects to is the one name the certificate must carry.
        request = dataclasses.replace(
            request, listener_hosts=(manifests.url_host(request.b_url),)
        ).validated()
    _check_bits(args.bits)
    if args.issue_ca and not 1 <= args.ca_days <= certs.MAX_DAYS:
        raise errors.SpecError(f"must be between 1 and {certs.MAX_DAYS}, got {args.ca_days}", field="ca_days")
    out_dir = pathlib.Path(args.out_dir)
    a_path, b_path = _side_files(out_dir, request.a_namespace, request.b_namespace)
    _check_out_dir(out_dir, [a_path, b_path], force=args.force)

    a_key = _generate_key(args.bits, label=request.a_namespace, err=err)
    b_key = _generate_key(args.bits, label=request.b_namespace, err=err)
    serving = None
    if args.issue_ca:
        with _progress(
            f"issuing a throwaway CA and a serving certificate for {', '.join(request.listener_hosts)}",
            err=err,
        ):
            serving = certs.issue_serving_certificate(request.listener_hosts, days=args.ca_days)
    built = manifests.link_manifests(request, a_key=a_key, b_key=b_key, serving=serving)

    a_id, b_id = keys.key_id(a_key.public_key()), keys.key_id(b_key.public_key())
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(
        a_path,
        manifests.to_yaml(
            built.a,
            header=(
                f"Workspace {request.a_namespace}: SyncConfig {request.name_a}, dials {request.b_url}.\n"
                f"Own key {a_id}; peer key {b_id}.\n"
                "Holds a PRIVATE KEY: apply it, then delete this file or keep it safe.\n"
                f"Generated by {PROG} link {workspace_link.__version__}."
            ),
        ),
        private=True,
    )
    _write(
        b_path,
        manifests.to_yaml(
            built.b,
            header=(
                f"Workspace {request.b_namespace}: SyncConfig {request.name_b}, listens at {request.b_url}.\n"
                f"Own key {b_id}; peer key {a_id}.\n"
                "Holds a PRIVATE KEY: apply it, then delete this file or keep it safe.\n"
                f"Generated by {PROG} link {workspace_link.__version__}."
            ),
        ),
        private=True,
    )
    out.write(f"wrote {a_path} (mode 0600): {_describe(built.a)}\n")
    out.write(f"wrote {b_path} (mode 0600): {_describe(built.b)}\n")
    out.write(f"key ids: {request.a_namespace} {a_id}, {request.b_namespace} {b_id}\n")
    steps = [
        f"  kubectl apply -f {b_path}   # in the cluster of {request.b_namespace} (listens)",
        f"  kubectl apply -f {a_path}   # in the cluster of {request.a_namespace} (dials)",
        f"  kubectl get syncconfigs -n {request.a_namespace} {request.name_a}   # wait for READY True",
        f"  then delete {out_dir} or keep it somewhere safe: it holds private keys",
    ]
    if serving is not None:
        steps.insert(
            0,
            f"  # the listener of {request.b_namespace} serves TLS from Secret {request.tls_secret_name}"
            " (chart value for the listener's TLS Secret)",
        )
    out.write("next:\n" + "\n".join(steps) + "\n")
    return 0


# --- subcommands owned by other modules -----------------------------------------------------


def _load(module: str, *, command: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise _Unavailable(f"{command}: not available in this installation ({module} is missing)") from None


class _Unavailable(Exception):
    pass


def _exit_code(result: object) -> int:
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _cmd_demo(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    return _exit_code(_load("workspace_link.cli.demo", command="demo").main(args))


def _cmd_run(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    path = pathlib.Path(args.flow)
    if not path.is_file():
        raise errors.SpecError(f"{path} is not a file", field="FLOW.py")
    try:
        inputs = json.loads(args.inputs)
    except json.JSONDecodeError as exc:
        raise errors.SpecError(f"not valid JSON ({exc.msg} at char {exc.pos})", field="inputs") from None
    if not isinstance(inputs, dict):
        raise errors.SpecError("must be a JSON object", field="inputs")
    return _exit_code(_load("workspace_link.cli.run_file", command="run").run_file(path, inputs))


def _cmd_operator(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    return _exit_code(_load("workspace_link.adapters.kube.handlers", command="operator").run_operator())


def _cmd_version(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    out.write(f"{PROG} {installed_version()}\n")
    return 0


Handler = Callable[..., int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Link two workspaces so a flow in one runs executions in the other.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    keygen = sub.add_parser(
        "keygen",
        help="write an RSA key pair as two Secret manifests (private: this side; public: the peer)",
        description=(
            "Generate an RSA key pair. Writes <out-dir>/<name>-private.yaml (Secret <name>-private, "
            "entry private.pem, mode 0600) for this side and <out-dir>/<name>-public.yaml (Secret "
            "<name>-public, entry public.pem) for the peer. The private key is never printed "
            "unless --stdout-private is given."
        ),
    )
    keygen.add_argument(
        "--name", required=True, help="base name of the Secrets, e.g. the SyncConfig's (link-to-b)"
    )
    keygen.add_argument("--namespace", required=True, help="namespace of the private key Secret (this side)")
    keygen.add_argument(
        "--peer-namespace", help="namespace of the public key Secret (the peer; default: --namespace)"
    )
    keygen.add_argument(
        "--bits", type=int, default=keys.DEFAULT_BITS, help="RSA key size (default %(default)s)"
    )
    keygen.add_argument("--out-dir", default=".", help="directory for the files (default: current)")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.add_argument(
        "--stdout-private",
        action="store_true",
        help="print the private key Secret on stdout instead of writing its file (e.g. to pipe into kubectl)",
    )
    keygen.set_defaults(handler=_cmd_keygen)

    link = sub.add_parser(
        "link",
        help="write both sides' manifests (key Secrets, SyncConfigs, optionally TLS) for two workspaces",
        description=(
            "Link workspace A (dials) to workspace B (listens at --b-url). Writes one file per side "
            "(<out-dir>/<namespace>.yaml, mode 0600) holding its key Secrets and its SyncConfig; apply "
            "each in its own cluster."
        ),
    )
    link.add_argument("--a-namespace", required=True, help="namespace of workspace A (the dialer)")
    link.add_argument("--b-namespace", required=True, help="namespace of workspace B (the listener)")
    link.add_argument(
        "--b-url",
        required=True,
        help="https://host[:port] where A reaches B's listener (its Service or Ingress), without a path",
    )
    link.add_argument(
        "--name-a", default=manifests.DEFAULT_NAME_A, help="A's SyncConfig name (default %(default)s)"
    )
    link.add_argument(
        "--name-b", default=manifests.DEFAULT_NAME_B, help="B's SyncConfig name (default %(default)s)"
    )
    link.add_argument(
        "--role",
        choices=[resources.ROLE_CONTROLLING, resources.ROLE_CONTROLLED],
        help="A's role (B gets the other); default: unset, so the dialer (A) controls",
    )
    link.add_argument("--sync-interval", type=int, help="seconds between A's exchanges (default: on change)")
    link.add_argument(
        "--send-all-executions", action="store_true", help="mirror every execution of the controlling side"
    )
    link.add_argument(
        "--keys-namespace", help="namespace for both sides' key Secrets (default: each workspace's)"
    )
    link.add_argument("--a-keys-namespace", help="namespace for A's key Secrets (overrides --keys-namespace)")
    link.add_argument("--b-keys-namespace", help="namespace for B's key Secrets (overrides --keys-namespace)")
    link.add_argument(
        "--bits", type=int, default=keys.DEFAULT_BITS, help="RSA key size (default %(default)s)"
    )
    link.add_argument(
        "--issue-ca",
        action="store_true",
        help="issue a throwaway CA and B's serving certificate; A's caCertificate points at the CA",
    )
    link.add_argument(
        "--listener-host",
        action="append",
        metavar="DNS_NAME",
        help="a name the serving certificate covers (repeatable; default: the host of --b-url)",
    )
    link.add_argument("--ca-days", type=int, default=certs.DEFAULT_DAYS, help="certificate validity in days")
    link.add_argument(
        "--tls-secret-name",
        default=manifests.DEFAULT_LISTENER_TLS,
        help="B's listener TLS Secret (default %(default)s)",
    )
    link.add_argument("--tls-namespace", help="namespace of B's TLS Secret (default: --b-namespace)")
    link.add_argument(
        "--out-dir", default="workspace-link-out", help="directory for the files (default %(default)s)"
    )
    link.add_argument("--force", action="store_true", help="overwrite existing files")
    link.set_defaults(handler=_cmd_link)

    demo = sub.add_parser("demo", help="two linked workspaces in one process, running the example flow")
    demo.add_argument("--keep-running", action="store_true", help="keep both workspaces up after the example")
    demo.add_argument("--verbose", action="store_true", help="show the exchanges as they happen")
    demo.set_defaults(handler=_cmd_demo)

    run = sub.add_parser("run", help="run one flow file locally, without a cluster")
    run.add_argument("flow", metavar="FLOW.py", help="the flow's Python file")
    run.add_argument("--inputs", default="{}", metavar="JSON", help="the inputs, a JSON object")
    run.set_defaults(handler=_cmd_run)

    operator = sub.add_parser("operator", help="run the operator (kopf) against the current cluster")
    operator.set_defaults(handler=_cmd_operator)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command; returns the exit code (2 for bad input, with nothing written)."""
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    parser = build_parser()
    command = ""
    try:
        with contextlib.redirect_stdout(stdout):
            args = parser.parse_args(argv)
        command = f" {args.command}"
        handler: Handler = args.handler
        return handler(args, out=stdout, err=stderr)
    except SystemExit as exc:  # --help
        return _exit_code(exc.code)
    except _UsageError as exc:
        stderr.write(f"{PROG}: error: {exc}\n")
        return USAGE_ERROR
    except errors.SpecError as exc:
        stderr.write(f"{PROG}{command}: error: {_spec_message(exc)}\n")
        return USAGE_ERROR
    except _Unavailable as exc:
        stderr.write(f"{PROG}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
