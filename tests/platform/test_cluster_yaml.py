"""cluster.yaml is a real `ray up` file: Ray's own config preparation and schema accept it
(no cloud calls), and it has what a vaesweep cluster needs: trials on autoscaling GPU workers,
and a tracking server on PostgreSQL that nobody outside the cluster and its SSH tunnel reaches."""

import copy
from pathlib import Path

import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "cluster.yaml"


def _config() -> dict:
    raw = yaml.safe_load(CLUSTER_YAML.read_text())
    prepared = prepare_config(copy.deepcopy(raw))
    validate_config(prepared)  # raises on any schema violation
    return prepared


def test_cluster_yaml_passes_rays_schema_validation():
    config = _config()
    assert config["provider"]["type"] == "aws"


def test_cpu_head_and_autoscaling_gpu_workers_from_zero():
    config = _config()
    nodes = config["available_node_types"]
    head = nodes[config["head_node_type"]]
    assert head["node_config"]["InstanceType"].startswith("m5") and head["resources"] == {"CPU": 0}
    (worker,) = [n for name, n in nodes.items() if name != config["head_node_type"]]
    assert worker["node_config"]["InstanceType"] == "g5.xlarge"
    assert worker["min_workers"] == 0 and worker["max_workers"] >= 1
    assert "gpu" in config["docker"]["worker_image"]


def test_nodes_install_cuda_torch_and_vaesweep_and_the_head_serves_mlflow():
    config = _config()
    setup = " ".join(config["setup_commands"])
    assert "pip install" in setup and "torch" in setup and "~/vaesweep" in setup
    assert config["file_mounts"]["~/vaesweep"] == "."
    head_setup = " ".join(config["head_setup_commands"])
    assert "[tracking-server]" in head_setup and "apt-get install -y -qq postgresql" in head_setup
    head = " ".join(config["head_start_ray_commands"])
    assert "vaesweep ui" in head and "--artifacts-destination s3://" in head
    assert head.index("vaesweep ui") < head.index("ray start --head")
    workers = " ".join(config["worker_start_ray_commands"])
    assert "MLFLOW_TRACKING_URI=http://$RAY_HEAD_IP:5000" in workers
    assert "VAESWEEP_STORAGE=s3://" in setup  # shared Tune storage for multi-node checkpoints


def _server_command(config: dict) -> str:
    (command,) = [c for c in config["head_start_ray_commands"] if "vaesweep ui" in c]
    return command


def test_the_tracking_database_is_postgresql_on_the_head_or_one_setting_away():
    config = _config()
    server = _server_command(config)
    assert '--backend-store-uri "${VAESWEEP_TRACKING_DB:-postgresql://' in server
    assert "sqlite" not in " ".join(config["head_start_ray_commands"])
    (database,) = [c for c in config["head_start_ray_commands"] if "initdb" in c]
    assert 'if [ -z "$VAESWEEP_TRACKING_DB" ]' in database  # an external database skips it
    assert "listen_addresses=''" in database and "--auth-host=reject" in database  # a socket only


def test_only_the_cluster_and_an_ssh_tunnel_reach_the_tracking_server_and_dashboard():
    config = _config()
    private = '$(hostname -I | cut -d" " -f1)'
    server = _server_command(config)
    assert f"--host {private}" in server and "0.0.0.0" not in " ".join(config["head_start_ray_commands"])
    assert "--auth" in server.split()  # MLflow's basic-auth app
    (ray_head,) = [c for c in config["head_start_ray_commands"] if "ray start --head" in c]
    assert f"--dashboard-host={private}" in ray_head
    group = config["provider"]["security_group"]
    assert group["GroupName"] and "IpPermissions" not in group  # Ray's rules: the nodes and SSH only
    assert all(
        "SecurityGroupIds" not in node["node_config"] for node in config["available_node_types"].values()
    )


def test_the_credentials_come_from_a_file_outside_the_repository_to_every_process():
    config = _config()
    secrets = "~/.vaesweep/credentials.env"
    assert config["file_mounts"][secrets] == secrets  # from the user's machine, not from "."
    load = "set -a; . ~/.vaesweep/credentials.env; set +a"
    for commands in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in config[commands] if "ray start" in c or "vaesweep ui" in c]
        assert starts and all(c.startswith(load) for c in starts), commands  # trials inherit them
    assert load in " ".join(config["head_setup_commands"])  # the driver's shell on the head
    text = CLUSTER_YAML.read_text()
    assert "MLFLOW_TRACKING_PASSWORD=" not in text.replace("MLFLOW_TRACKING_PASSWORD=...", "")
