"""Seeded generator of realistic vehicle-dealer orders with a known cancellation mechanism.

Ground truth (documented so tests and people can reason about it): each order's cancellation
log-odds is the sum of the effects below, plus an intercept tuned so that about 27% of orders
cancel in a stationary sample. The label is drawn from that probability, which is written to the
``cancel_probability`` column; thresholding it at 0.5 gives the Bayes-optimal accuracy.

==========================  ==================================================================
driver                      effect on log-odds
==========================  ==================================================================
delivery delay (days late)  +0.05 per day (0..60), +0.5 more once later than 21 days
financing status            not_needed -0.2, approved -0.15, pending +0.55, declined +1.9
pending and > 14 days late  +0.5 (an interaction a linear model can't see)
deposit share               -4.0 x share of the order value paid up front
customer tenure             -0.12 per year, capped at 10 years
prior cancellations         +1.2 x cancellations / (prior orders + 1), +0.3 if any
price vs. list              +0.45 x log(order value / product line's median value)
lead time                   +0.008 per day of lead time
contacts since order        +0.25 per contact beyond the first
trade-in                    -0.4
channel                     showroom -0.25, online +0.45, phone +0.1, partner +0.2
product line, region        fixed per level (see the tables below)
dealer                      one random effect per dealer, N(0, 0.45)
season (order month)        Jan +0.35, Feb +0.25, Jul +0.2, Aug +0.3, Dec -0.2
==========================  ==================================================================

Drift scenarios shift the inputs, never the mechanism (except a new region's own effect):
``delivery_shock`` adds 18 +/- 6 days of delay, ``price_increase`` raises prices 20% and cuts
deposits 30%, ``new_region`` sends 35% of orders to an ``overseas`` region unseen in training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DRIFT_SCENARIOS = ("delivery_shock", "price_increase", "new_region")

# name: (median order value, log-sd of value, log-odds effect, median lead time days, extra delay)
PRODUCT_LINES: dict[str, tuple[float, float, float, float, float]] = {
    "compact": (28_000, 0.20, -0.10, 30, 0.0),
    "sedan": (36_000, 0.20, 0.00, 35, 0.0),
    "suv": (48_000, 0.22, 0.05, 45, 2.0),
    "pickup": (52_000, 0.22, -0.05, 50, 1.0),
    "ev": (55_000, 0.25, 0.35, 75, 6.0),
    "luxury": (90_000, 0.30, 0.25, 90, 4.0),
    "motorcycle": (15_000, 0.30, 0.15, 20, -1.0),
}
PRODUCT_WEIGHTS = np.array([0.18, 0.2, 0.22, 0.14, 0.1, 0.06, 0.1])
REGIONS = {"north": 0.0, "south": 0.15, "east": -0.1, "west": 0.1, "central": -0.05}
NEW_REGION = ("overseas", 0.6)
CHANNELS = {"showroom": (0.45, -0.25), "online": (0.30, 0.45), "phone": (0.10, 0.10)}
CHANNELS["partner"] = (0.15, 0.20)
PAYMENT_METHODS = {"card": 0.2, "bank_transfer": 0.25, "financing": 0.4, "lease": 0.15}
FINANCING_EFFECT = {"not_needed": -0.2, "approved": -0.15, "pending": 0.55, "declined": 1.9}
SEASON = {1: 0.35, 2: 0.25, 7: 0.2, 8: 0.3, 12: -0.2}
INTERCEPT = -1.2
N_DEALERS = 40

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kara",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xenia",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Adams",
    "Becker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Meyer",
    "Novak",
    "Olsen",
    "Petrov",
    "Quinto",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umarov",
    "Vogel",
    "Weber",
    "Young",
    "Zimmer",
]
CITIES = [
    "Aalen",
    "Bergen",
    "Cork",
    "Delft",
    "Essen",
    "Faro",
    "Ghent",
    "Hamar",
    "Imola",
    "Jena",
    "Kiel",
    "Lund",
    "Lyon",
    "Malmo",
    "Nancy",
    "Oslo",
    "Porto",
    "Reims",
    "Riga",
    "Sintra",
    "Tartu",
    "Turin",
    "Ulm",
    "Varna",
    "Vigo",
    "Weimar",
    "York",
    "Zadar",
    "Zug",
    "Bonn",
    "Gouda",
    "Graz",
    "Halle",
    "Leeds",
    "Linz",
    "Metz",
    "Mons",
    "Nice",
    "Pisa",
    "Split",
]


def generate(
    rows: int,
    seed: int = 0,
    drift: str | None = None,
    start: str = "2024-01-01",
    days: int = 730,
) -> pd.DataFrame:
    """Return ``rows`` orders sorted by order date, with labels and true probabilities."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if drift is not None and drift not in DRIFT_SCENARIOS:
        raise ValueError(f"unknown drift scenario {drift!r}; choose from {DRIFT_SCENARIOS}")
    rng = np.random.default_rng(seed)
    # Dealers are fixed by a seed of their own so drifted samples keep the same dealer network.
    dealer_rng = np.random.default_rng(12345)
    dealer_effect = dealer_rng.normal(0.0, 0.45, N_DEALERS)
    dealer_delay = dealer_rng.gamma(2.0, 2.5, N_DEALERS) - 2.0
    dealer_size = dealer_rng.pareto(1.5, N_DEALERS) + 1.0
    dealer_ids = np.array([f"D{i + 1:03d}" for i in range(N_DEALERS)])
    dealer_names = np.array([f"{CITIES[i % len(CITIES)]} Motors" for i in range(N_DEALERS)])

    n = rows
    day = np.sort(rng.integers(0, days, n))
    order_date = pd.Timestamp(start) + pd.to_timedelta(day, unit="D")
    month = order_date.month.to_numpy()
    dealer = rng.choice(N_DEALERS, n, p=dealer_size / dealer_size.sum())

    lines = list(PRODUCT_LINES)
    product = rng.choice(len(lines), n, p=PRODUCT_WEIGHTS / PRODUCT_WEIGHTS.sum())
    line_table = np.array([PRODUCT_LINES[k] for k in lines])
    median_value, value_sd, line_effect, median_lead, line_delay = line_table[product].T
    order_value = np.round(median_value * np.exp(rng.normal(0, value_sd)), -1)
    lead_time = np.round(median_lead * np.exp(rng.normal(0, 0.35, n))).astype(int)

    region_names = list(REGIONS)
    region = np.array(region_names)[rng.integers(0, len(region_names), n)].astype(object)
    channel_names = list(CHANNELS)
    channel_p = np.array([CHANNELS[c][0] for c in channel_names])
    channel = np.array(channel_names)[rng.choice(len(channel_names), n, p=channel_p)]
    pay_names = list(PAYMENT_METHODS)
    pay_p = np.array(list(PAYMENT_METHODS.values()))
    payment = np.array(pay_names)[rng.choice(len(pay_names), n, p=pay_p)]
    needs_credit = np.isin(payment, ["financing", "lease"])
    credit = np.array(["approved", "pending", "declined"])[rng.choice(3, n, p=[0.7, 0.22, 0.08])]
    financing = np.where(needs_credit, credit, "not_needed").astype(object)
    deposit = np.round(np.clip(rng.beta(2, 12, n) + np.where(needs_credit, 0, 0.08), 0, 0.9), 3)

    new_customer = rng.random(n) < 0.3
    tenure = np.round(np.where(new_customer, 0.0, rng.exponential(4.0, n)), 1)
    prior_orders = rng.poisson(0.3 + 0.6 * tenure)
    propensity = rng.beta(1.5, 8, n)
    prior_cancellations = rng.binomial(prior_orders, propensity)
    delay = np.round(rng.normal(dealer_delay[dealer] + line_delay, 9.0)).clip(-10, None)
    trade_in = rng.random(n) < 0.35

    if drift == "delivery_shock":
        delay = delay + np.round(rng.normal(18.0, 6.0, n))
    elif drift == "price_increase":
        order_value = np.round(order_value * 1.2, -1)
        deposit = np.round(deposit * 0.7, 3)
    elif drift == "new_region":
        region[rng.random(n) < 0.35] = NEW_REGION[0]
    contacts = rng.poisson(0.9 + 0.04 * np.clip(delay, 0, 60)).astype(float)

    region_effect = np.array([REGIONS.get(r, NEW_REGION[1]) for r in region])
    channel_effect = np.array([CHANNELS[c][1] for c in channel])
    financing_effect = np.array([FINANCING_EFFECT[f] for f in financing])
    late = np.clip(delay, 0, 60)
    logit = (
        INTERCEPT
        + 0.05 * late
        + 0.5 * (delay > 21)
        + financing_effect
        + 0.5 * ((financing == "pending") & (delay > 14))
        - 4.0 * deposit
        - 0.12 * np.minimum(tenure, 10)
        + 1.2 * prior_cancellations / (prior_orders + 1)
        + 0.3 * (prior_cancellations > 0)
        + 0.45 * np.log(order_value / median_value)
        + 0.008 * lead_time
        + 0.25 * np.clip(contacts - 1, 0, None)
        - 0.4 * trade_in
        + channel_effect
        + line_effect
        + region_effect
        + dealer_effect[dealer]
        + np.array([SEASON.get(int(m), 0.0) for m in month])
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    cancelled = rng.random(n) < probability

    # Missing values as a CRM really has them: unknown tenure, unlogged contacts.
    tenure_obs = np.where(rng.random(n) < 0.04, np.nan, tenure)
    contacts_obs = np.where(rng.random(n) < 0.02, np.nan, contacts)
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    suffix = [f"{x:d}" for x in rng.integers(1, 999, n)]
    tag = f"{seed}" + (f"{drift[:1].upper()}" if drift else "")

    return pd.DataFrame(
        {
            "order_id": [f"SO-{tag}-{i + 1:07d}" for i in range(n)],
            "order_date": order_date,
            "dealer_id": dealer_ids[dealer],
            "dealer_name": dealer_names[dealer],
            "customer_first_name": first,
            "customer_last_name": last,
            "customer_email": [
                f"{f.lower()}.{la.lower()}{s}@example.com"
                for f, la, s in zip(first, last, suffix, strict=True)
            ],
            "product_line": np.array(lines)[product],
            "order_value": order_value,
            "lead_time_days": lead_time,
            "delivery_delay_days": delay,
            "financing_status": financing,
            "deposit_share": deposit,
            "payment_method": payment,
            "customer_tenure_years": tenure_obs,
            "prior_orders": prior_orders,
            "prior_cancellations": prior_cancellations,
            "region": region,
            "channel": channel,
            "trade_in": trade_in,
            "num_contacts": contacts_obs,
            "order_month": month,
            "cancel_probability": np.round(probability, 6),
            "outcome": np.where(cancelled, "cancelled", "fulfilled"),
        }
    )


def bayes_accuracy(df: pd.DataFrame, probability: str = "cancel_probability") -> float:
    """Accuracy of thresholding the true probabilities at 0.5 against the drawn labels."""
    truth = df["outcome"].to_numpy() == "cancelled"
    return float(np.mean((df[probability].to_numpy() >= 0.5) == truth))


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        raise ValueError(f"{path}: write .csv or .parquet")
