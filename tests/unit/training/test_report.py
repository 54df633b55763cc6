import re

from training.pipeline import report
from training.report import PLOTS


def test_report_holds_the_four_plots_and_the_metrics(trained, tmp_path):
    path = report(trained, tmp_path / "rep", "synthetic")
    page = path.read_text()
    assert path.name == "report.html" and page.startswith("<!doctype html>")
    for plot in PLOTS:
        figure = re.search(rf'<figure id="{plot}">(<svg.*?</svg>)', page, re.S)
        assert figure, plot
        assert len(figure.group(1)) > 2000, plot  # a drawn plot, not an empty frame
    assert "roc_auc" in page and "dealer_orders" in page
    # every feature of the spec appears in the importance plot's labels
    for feature in ("delivery_delay_days", "financing_status"):
        assert feature in page
