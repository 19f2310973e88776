"""python-openstackclient, a client nobody here wrote, against the simulator."""
import hashlib
import json
import os
import subprocess
import time

import pytest

OPENSTACK = os.path.join(os.path.dirname(os.path.abspath(__import__("sys").executable)), "openstack")


FORMATTABLE = {"create", "show", "list", "issue"}


def osc(sim, cloud, *args, check=True):
    """Runs `openstack --os-cloud CLOUD ARGS`, with `-f json` for commands that print a
    resource, and returns the decoded output (or the completed process on failure)."""
    command = [OPENSTACK, "--os-cloud", cloud, *args]
    if FORMATTABLE & set(args):
        command += ["-f", "json"]
    result = subprocess.run(command, env=sim["env"], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    output = result.stdout
    starts = [at for at in (output.find("{"), output.find("[")) if at >= 0]
    if result.returncode != 0 or not starts:
        return result
    # `--wait` prints progress before the JSON.
    return json.loads(output[min(starts):])


def test_token_issue(sim):
    token = osc(sim, "site-001", "token", "issue")
    assert len(token["id"]) >= 32
    assert token["project_id"]
    assert token["expires"]


def test_wrong_password_is_refused(sim):
    result = subprocess.run([OPENSTACK, "--os-cloud", "site-001", "--os-password", "wrong", "token", "issue"],
                            env=sim["env"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "401" in result.stderr or "authentication" in result.stderr.lower()


def test_flavor_create_and_show(sim):
    created = osc(sim, "site-001", "flavor", "create", "--vcpus", "2", "--ram", "2048", "--disk", "20", "m1.osc")
    assert (created["vcpus"], created["ram"], created["disk"]) == (2, 2048, 20)
    shown = osc(sim, "site-001", "flavor", "show", "m1.osc")
    assert shown["id"] == created["id"]
    duplicate = osc(sim, "site-001", "flavor", "create", "--vcpus", "1", "--ram", "1", "--disk", "1", "m1.osc", check=False)
    assert duplicate.returncode != 0 and "409" in duplicate.stderr


def test_image_upload_and_download_keep_the_bytes(sim, tmp_path):
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    image = osc(sim, "site-001", "image", "create", "--file", str(source), "--disk-format", "raw",
                "--container-format", "bare", "osc-image")
    assert image["status"] == "active"
    assert image["size"] == source.stat().st_size
    assert image["checksum"] == hashlib.md5(source.read_bytes()).hexdigest()
    assert image["properties"]["os_hash_algo"] == "sha512"
    assert image["properties"]["os_hash_value"] == hashlib.sha512(source.read_bytes()).hexdigest()
    target = tmp_path / "saved.raw"
    osc(sim, "site-001", "image", "save", "--file", str(target), image["id"])
    assert target.read_bytes() == source.read_bytes()


def test_server_lifecycle(sim):
    server = osc(sim, "site-001", "server", "create", "--flavor", "m1.tiny", "--image", "osc-image", "--wait", "osc-vm")
    assert server["status"] == "ACTIVE"
    assert "private" in json.dumps(server["addresses"])
    listed = osc(sim, "site-001", "server", "list")
    assert any(s["Name"] == "osc-vm" and s["Status"] == "ACTIVE" for s in listed)
    shown = osc(sim, "site-001", "server", "show", "osc-vm")
    assert shown["id"] == server["id"]
    osc(sim, "site-001", "server", "stop", "osc-vm")
    assert osc(sim, "site-001", "server", "show", "osc-vm")["status"] == "SHUTOFF"
    osc(sim, "site-001", "server", "delete", "--wait", "osc-vm")
    assert not any(s["Name"] == "osc-vm" for s in osc(sim, "site-001", "server", "list"))


def test_quota_set_and_show(sim):
    osc(sim, "site-001", "quota", "set", "--instances", "20", "--cores", "40", "--networks", "50", "--volumes", "7", "admin")
    quota = {row["Resource"]: row["Limit"] for row in osc(sim, "site-001", "quota", "show", "admin")}
    assert (quota["instances"], quota["cores"], quota["networks"], quota["volumes"]) == (20, 40, 50, 7)


def test_network_and_subnet_create(sim):
    network = osc(sim, "site-001", "network", "create", "osc-net")
    assert network["status"] == "ACTIVE"
    subnet = osc(sim, "site-001", "subnet", "create", "--network", "osc-net", "--subnet-range", "192.168.77.0/24", "osc-subnet")
    assert subnet["cidr"] == "192.168.77.0/24"
    assert subnet["gateway_ip"] == "192.168.77.1"


def test_volume_create_becomes_available(sim):
    volume = osc(sim, "site-001", "volume", "create", "--size", "1", "osc-vol")
    assert volume["status"] == "creating"
    deadline = time.monotonic() + 20
    while osc(sim, "site-001", "volume", "show", "osc-vol")["status"] != "available":
        assert time.monotonic() < deadline, "volume never became available"
        time.sleep(0.2)


def test_identity_administration_and_application_credentials(sim):
    project = osc(sim, "site-002", "project", "create", "osc-project")
    user = osc(sim, "site-002", "user", "create", "--project", "osc-project", "--password", "osc-pw", "osc-user")
    osc(sim, "site-002", "role", "add", "--project", "osc-project", "--user", "osc-user", "member")
    assignments = osc(sim, "site-002", "role", "assignment", "list", "--user", user["id"], "--names")
    assert any(a["Role"] == "member" and a["Project"].startswith("osc-project") for a in assignments)
    credential = osc(sim, "site-002", "application", "credential", "create", "osc-cred")
    assert credential["Secret"]
    # A script holding only the application credential, no clouds.yaml entry.
    result = subprocess.run(
        [OPENSTACK, "--os-auth-url", f"{sim['url']}/site-002/identity/v3", "--os-auth-type", "v3applicationcredential",
         "--os-application-credential-id", credential["ID"], "--os-application-credential-secret", credential["Secret"],
         "--os-identity-api-version", "3", "token", "issue", "-f", "json"],
        env={k: v for k, v in sim["env"].items() if k != "OS_CLIENT_CONFIG_FILE"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["project_id"] == credential["Project ID"]
    osc(sim, "site-002", "project", "delete", project["id"])


def test_a_site_without_cinder_has_no_volume_service(sim):
    result = osc(sim, "site-004", "volume", "list", check=False)
    assert result.returncode != 0
    catalog = osc(sim, "site-004", "catalog", "list")
    assert "block-storage" not in json.dumps(catalog) and "volumev3" not in json.dumps(catalog)
    assert "compute" in json.dumps(catalog)


@pytest.mark.parametrize("cloud, expected", [("site-001", "2.100"), ("site-002", "2.96"), ("site-003", "2.93")])
def test_sites_run_different_releases(sim, cloud, expected):
    versions = osc(sim, cloud, "versions", "show", "--service", "compute")
    assert any(v["Max Microversion"] == expected for v in versions), versions
