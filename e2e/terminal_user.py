"""A person at a terminal for the end-to-end suites: `parley` with a config folder (XDG_CONFIG_HOME) of their own,
signed in to a cluster, as two people on two machines would be. scripts/test provides PARLEY_BIN; without it the
debug build is used."""

import os
import subprocess
import uuid

from local_cluster import ROOT

BINARY = os.environ.get("PARLEY_BIN", os.path.join(ROOT, ".build", "debug", "parley"))
PASSWORD = "correct horse battery"


class User:
    """`parley` for one user, with a config folder of their own and the cluster as its server."""

    def __init__(self, cluster, folder, username):
        self.username = username
        self.folder = folder
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")},
            "XDG_CONFIG_HOME": folder, "PARLEY_SERVER": cluster.base_url,
        }

    def run(self, *arguments, input=None, timeout=30):
        return subprocess.run([BINARY, *arguments], env=self.environment, input=input, capture_output=True, text=True, timeout=timeout)

    def ok(self, *arguments, input=None):
        result = self.run(*arguments, input=input)
        assert result.returncode == 0, f"parley {' '.join(arguments)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result.stdout


def register(cluster, prefix, folder, kind=User):
    """A new user named `prefix` and a random tail, signed up and signed in, as a `kind` whose config folder
    `folder(username)` makes."""
    username = f"{prefix}{uuid.uuid4().hex[:8]}"
    user = kind(cluster, folder(username), username)
    user.ok("register", username, "--name", prefix.title(), "--password-stdin", input=PASSWORD + "\n")
    return user
