"""openstacksdk, the library most automation uses, against the simulator."""
import hashlib
import os

import openstack


def connect(sim, cloud):
    os.environ["OS_CLIENT_CONFIG_FILE"] = sim["clouds"]
    return openstack.connect(cloud=cloud)


def test_sdk_does_what_a_script_does(sim, tmp_path):
    conn = connect(sim, "site-002")
    flavor = conn.compute.create_flavor(name="sdk.small", vcpus=1, ram=1024, disk=10)
    assert conn.compute.find_flavor("sdk.small").id == flavor.id

    data = os.urandom(512 * 1024)
    image = conn.create_image("sdk-image", data=data, disk_format="qcow2", container_format="bare", wait=True)
    assert image.checksum == hashlib.md5(data).hexdigest()
    downloaded = conn.image.download_image(image)
    content = downloaded if isinstance(downloaded, bytes) else downloaded.content
    assert content == data

    network = conn.network.create_network(name="sdk-net")
    conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.20.0.0/24", name="sdk-subnet")

    server = conn.compute.create_server(name="sdk-vm", flavor_id=flavor.id, image_id=image.id, networks=[{"uuid": network.id}])
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=30, interval=0.2)
    assert server.addresses["sdk-net"][0]["addr"].startswith("10.20.0.")

    project = conn.identity.find_project("admin")
    conn.set_compute_quotas(project.id, instances=15)
    assert conn.get_compute_quotas(project.id).instances == 15

    volume = conn.block_storage.create_volume(size=2, name="sdk-vol")
    conn.block_storage.wait_for_status(volume, status="available", wait=20, interval=0.2)

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.2)
    conn.image.delete_image(image)
    assert conn.image.find_image("sdk-image") is None


def test_sdk_sees_over_quota_as_openstack_reports_it(sim):
    conn = connect(sim, "site-003")
    project = conn.identity.find_project("admin")
    conn.set_compute_quotas(project.id, instances=1)
    image = conn.create_image("quota-image", data=b"x" * 1024, disk_format="raw", container_format="bare", wait=True)
    conn.compute.create_server(name="q1", flavor_id="1", image_id=image.id, networks="none")
    try:
        conn.compute.create_server(name="q2", flavor_id="1", image_id=image.id, networks="none")
    except openstack.exceptions.HttpException as error:
        assert error.status_code == 403
        assert "Quota exceeded for instances" in str(error)
    else:
        raise AssertionError("the second server should exceed the quota")


def test_auto_networks_fail_as_real_nova_fails_without_auto_allocation(sim):
    """Zed (site-003) has no auto-allocated-topology: a real Nova answers 500, and so does
    the simulator, while site-001 (2025.2) has it and boots."""
    for cloud, boots in [("site-003", False), ("site-001", True)]:
        conn = connect(sim, cloud)
        aliases = {extension.alias for extension in conn.network.extensions()}
        assert ("auto-allocated-topology" in aliases) == boots
        image = conn.create_image("auto-image", data=b"x" * 1024, disk_format="raw", container_format="bare", wait=True)
        try:
            server = conn.compute.create_server(name="auto-vm", flavor_id="1", image_id=image.id, networks="auto")
        except openstack.exceptions.HttpException as error:
            assert not boots and error.status_code == 500, f"{cloud}: {error}"
        else:
            assert boots
            conn.compute.wait_for_server(server, status="ACTIVE", wait=30, interval=0.2)
