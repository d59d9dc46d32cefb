"""Helm's own checks of this chart, through Helm's Go library (PyPI `helm-sdkpy`).

    helm_check.py lint CHART
        Helm's lint. Prints {"messages": [{"severity": "INFO"|"WARNING"|"ERROR", "path": …}]}.
    helm_check.py render --kubeconfig PATH --namespace NS RELEASE CHART [--values JSON]
        `helm install` without waiting, against the cluster the kubeconfig names (the tests use
        the embedded API server). Prints {"manifest": …, "notes": …, "version": …}: the
        manifests exactly as Helm rendered and applied them.
    helm_check.py upgrade --kubeconfig PATH --namespace NS RELEASE CHART [--values JSON]
        `helm upgrade` of an installed release with new values (not reused: what is not given
        takes the chart's default), without waiting. Prints the same document as render.
    helm_check.py uninstall --kubeconfig PATH --namespace NS RELEASE
        `helm uninstall`, waiting until every object of the release is gone. Prints {"response": …}, Helm's answer.

helm-sdkpy exposes no client-only `helm template`, hence an install against a test server.
Exits 0 and prints one JSON document on stdout, or prints the error on stderr and exits 1.
Used by crates/embedded-apiserver/tests/chart_lint.rs; not packaged (.helmignore).
"""

import argparse
import asyncio
import json
import sys

import helm_sdkpy

# Helm's lint severities (helm.sh/helm/v4/pkg/chart/v2/lint/support).
SEVERITIES = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("lint").add_argument("chart")
    for name in ("render", "upgrade", "uninstall"):
        action = actions.add_parser(name)
        action.add_argument("--kubeconfig", required=True)
        action.add_argument("--namespace", required=True)
        action.add_argument("release")
        if name != "uninstall":
            action.add_argument("chart")
            action.add_argument(
                "--values", type=json.loads, default=None, help="values as a JSON object"
            )
    return parser.parse_args()


async def lint(chart: str) -> dict:
    # Lint never contacts a cluster; the configuration only satisfies the API.
    result = await helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(chart)
    return {
        "messages": [
            {
                "severity": SEVERITIES.get(message.get("Severity"), str(message.get("Severity"))),
                "path": message.get("Path"),
                # Go errors cross the FFI as empty objects; kept in case a version fills them.
                "error": message.get("Err"),
            }
            for message in result.get("Messages") or []
        ]
    }


async def render(args: argparse.Namespace) -> dict:
    config = helm_sdkpy.Configuration(namespace=args.namespace, kubeconfig=args.kubeconfig)
    release = await helm_sdkpy.Install(config).run(
        args.release,
        args.chart,
        values=args.values,
        create_namespace=True,
        wait=False,
        timeout=60,
    )
    return described(release)


async def upgrade(args: argparse.Namespace) -> dict:
    config = helm_sdkpy.Configuration(namespace=args.namespace, kubeconfig=args.kubeconfig)
    release = await helm_sdkpy.Upgrade(config).run(
        args.release, args.chart, values=args.values, wait=False, timeout=60
    )
    return described(release)


async def uninstall(args: argparse.Namespace) -> dict:
    config = helm_sdkpy.Configuration(namespace=args.namespace, kubeconfig=args.kubeconfig)
    result = await helm_sdkpy.Uninstall(config).run(args.release, wait=True, timeout=60)
    return {"response": result}


def described(release: dict) -> dict:
    info = release.get("info") or {}
    return {
        "manifest": release.get("manifest", ""),
        "notes": info.get("notes", ""),
        "version": release.get("version"),
    }


ACTIONS = {"lint": None, "render": render, "upgrade": upgrade, "uninstall": uninstall}


def main() -> int:
    args = parse_args()
    try:
        action = lint(args.chart) if args.action == "lint" else ACTIONS[args.action](args)
        result = asyncio.run(action)
    except helm_sdkpy.HelmError as error:
        print(f"helm {args.action} failed: {error}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
