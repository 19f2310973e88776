"""Fixtures for the fidelity lane: a real `overcast sim` process and its clouds.yaml."""
import os
import re
import subprocess
import tempfile
import time

import pytest

BIN = os.environ.get("OVERCAST_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "overcast"))


@pytest.fixture(scope="session")
def sim():
    """Runs `overcast sim` with five sites (profiles cycle: 2025.2, 2024.1, zed, no Cinder, no Neutron)."""
    workdir = tempfile.mkdtemp(prefix="overcast-osc-")
    clouds = os.path.join(workdir, "clouds.yaml")
    process = subprocess.Popen(
        [BIN, "sim", "--sites", "5", "--listen", "127.0.0.1:0", "--clouds-yaml", clouds,
         "--build-delay-ms", "500", "--data-dir", os.path.join(workdir, "data")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    url = None
    while url is None:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError("overcast sim exited before listening")
        match = re.search(r"sites on (http://\S+)", line)
        if match:
            url = match.group(1)
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("overcast sim did not start in 30 s")
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=clouds)
    yield {"url": url, "clouds": clouds, "env": env, "workdir": workdir}
    process.terminate()
    process.wait(timeout=10)
