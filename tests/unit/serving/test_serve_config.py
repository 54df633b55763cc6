from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from serving.app import build_app

CONFIG = Path(__file__).resolve().parents[3] / "serving" / "serve_config.yaml"


def test_serve_config_is_valid_and_matches_the_application(tmp_path):
    config = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    (app,) = config.applications
    assert app.import_path == "serving.app:build_app" and app.route_prefix == "/"
    names = {d.name for d in app.deployments}
    assert names == {"Gateway", "Predictor", "EmailGenerator"}
    predictor = next(d for d in app.deployments if d.name == "Predictor")
    assert set(predictor.user_config) == {"max_batch_size", "batch_wait_timeout_s"}
    built = build_app({**app.args, "state_dir": str(tmp_path)})
    assert built._bound_deployment.name == "Gateway"
    bound = built._bound_deployment
    assert bound._deployment_config.max_ongoing_requests == 256
