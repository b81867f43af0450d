"""cluster.yaml is a real `ray up` file: Ray's own config preparation and schema accept it
(no cloud calls), and it has what a vaesweep cluster needs."""

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
    assert config["file_mounts"] == {"~/vaesweep": "."}
    head = " ".join(config["head_start_ray_commands"])
    assert "mlflow server" in head and "--backend-store-uri sqlite:///" in head
    assert "--artifacts-destination s3://" in head and "--host 0.0.0.0" in head
    assert head.index("mlflow server") < head.index("ray start --head")
    workers = " ".join(config["worker_start_ray_commands"])
    assert "MLFLOW_TRACKING_URI=http://$RAY_HEAD_IP:5000" in workers
    assert "VAESWEEP_STORAGE=s3://" in setup  # shared Tune storage for multi-node checkpoints
