"""Monthly cost of the declared infrastructure, per component and per code location.

Prices are on-demand list prices for ap-southeast-2 (Sydney), USD, taken from the AWS pricing
pages (2025); they drift, so every figure is an estimate. A month is 730 hours. The free tier is
the 12-month offer of a new account: 750 h of db.t3.micro with 20 GB, 750 h of ALB with 15 LCU,
5 GB of S3, 5 GB of log ingestion and storage, 500 MB of ECR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Prices:
    fargate_arm_vcpu_hour: float = 0.03885
    fargate_arm_gb_hour: float = 0.00426
    fargate_spot_discount: float = 0.70
    rds_t3_micro_hour: float = 0.028
    rds_gp2_gb_month: float = 0.138
    alb_hour: float = 0.0252
    alb_lcu_hour: float = 0.008
    s3_gb_month: float = 0.025
    nat_hour: float = 0.059
    nat_gb: float = 0.059
    public_ipv4_hour: float = 0.005
    secret_month: float = 0.40
    cloud_map_zone_month: float = 0.50
    cloud_map_instance_month: float = 0.10
    logs_ingest_gb: float = 0.57
    logs_store_gb_month: float = 0.033
    ecr_gb_month: float = 0.10
    efs_gb_month: float = 0.36


PRICES = Prices()


@dataclass(frozen=True)
class Task:
    vcpu: float = 0.25
    memory_gb: float = 0.5
    count: float = 1.0
    spot: bool = False


@dataclass
class Topology:
    """What the modules declare, with the usage figures a price needs (2-3 users)."""

    webserver: Task = field(default_factory=Task)
    daemon: Task = field(default_factory=Task)
    code_locations: dict[str, Task] = field(default_factory=lambda: {"main": Task()})
    rds_storage_gb: float = 20
    alb_lcu: float = 0.1
    s3_gb: float = 2
    nat: bool = False
    nat_gb: float = 5
    efs: bool = False
    efs_gb: float = 1
    public_task_ips: bool = True
    alb_ips: int = 2
    secrets: int = 1
    logs_gb: float = 1
    ecr_gb: float = 1.5


@dataclass(frozen=True)
class Line:
    component: str
    item: str
    monthly: float
    after_free_tier: float


def fargate_month(task: Task, prices: Prices = PRICES) -> float:
    hourly = task.vcpu * prices.fargate_arm_vcpu_hour + task.memory_gb * prices.fargate_arm_gb_hour
    if task.spot:
        hourly *= 1 - prices.fargate_spot_discount
    return hourly * HOURS_PER_MONTH * task.count


def estimate(topology: Topology, prices: Prices = PRICES) -> list[Line]:
    t, p, h = topology, prices, HOURS_PER_MONTH
    lines: list[Line] = []

    def add(component: str, item: str, monthly: float, free: float = 0.0) -> None:
        lines.append(Line(component, item, round(monthly, 2), round(max(monthly - free, 0.0), 2)))

    add("ecs", "webserver (Fargate ARM64)", fargate_month(t.webserver, p))
    add("ecs", "daemon (Fargate ARM64)", fargate_month(t.daemon, p))
    for name, task in sorted(t.code_locations.items()):
        add(f"code_location:{name}", "Fargate ARM64", fargate_month(task, p))
        add(f"code_location:{name}", "Cloud Map instance", p.cloud_map_instance_month * task.count)
        if t.public_task_ips:
            add(f"code_location:{name}", "public IPv4", p.public_ipv4_hour * h * task.count)
    if t.public_task_ips:
        ips = t.webserver.count + t.daemon.count
        add("network", "public IPv4 of webserver+daemon tasks", p.public_ipv4_hour * h * ips)
    rds = p.rds_t3_micro_hour * h
    add("database", "RDS db.t3.micro", rds, free=rds)
    storage = p.rds_gp2_gb_month * t.rds_storage_gb
    add("database", f"RDS gp2 {t.rds_storage_gb:g} GB", storage, free=p.rds_gp2_gb_month * 20)
    add("database", "Secrets Manager secrets", p.secret_month * t.secrets)
    alb = p.alb_hour * h + p.alb_lcu_hour * h * t.alb_lcu
    add(
        "alb", "ALB hours + LCU", alb, free=p.alb_hour * h + p.alb_lcu_hour * h * min(t.alb_lcu, 15)
    )
    add("alb", "public IPv4 of the ALB", p.public_ipv4_hour * h * t.alb_ips)
    add("storage", f"S3 {t.s3_gb:g} GB", p.s3_gb_month * t.s3_gb, free=p.s3_gb_month * 5)
    logs = p.logs_ingest_gb * t.logs_gb + p.logs_store_gb_month * t.logs_gb
    add("ecs", f"CloudWatch Logs {t.logs_gb:g} GB", logs, free=logs if t.logs_gb <= 5 else 0)
    add("ecs", f"ECR {t.ecr_gb:g} GB", p.ecr_gb_month * t.ecr_gb, free=p.ecr_gb_month * 0.5)
    add("service_discovery", "Cloud Map private namespace (hosted zone)", p.cloud_map_zone_month)
    if t.nat:
        add("network", "NAT gateway", p.nat_hour * h + p.nat_gb * t.nat_gb)
        add("network", "public IPv4 of the NAT", p.public_ipv4_hour * h)
    if t.efs:
        add("efs", f"EFS {t.efs_gb:g} GB", p.efs_gb_month * t.efs_gb)
    return lines


def totals(lines: list[Line]) -> tuple[float, float]:
    return round(sum(x.monthly for x in lines), 2), round(sum(x.after_free_tier for x in lines), 2)


def by_component(lines: list[Line]) -> dict[str, tuple[float, float]]:
    grouped: dict[str, tuple[float, float]] = {}
    for line in lines:
        before, after = grouped.get(line.component, (0.0, 0.0))
        grouped[line.component] = (
            round(before + line.monthly, 2),
            round(after + line.after_free_tier, 2),
        )
    return grouped


def topology_for(
    code_locations: dict[str, dict[str, object]], *, nat: bool = False, efs: bool = False
) -> Topology:
    """The topology the modules declare for these code locations (specs as in config.yml)."""
    tasks = {
        name: Task(
            vcpu=int(str(spec.get("cpu", 256))) / 1024,
            memory_gb=int(str(spec.get("memory", 512))) / 1024,
            count=int(str(spec.get("min_tasks", 1))),
        )
        for name, spec in code_locations.items()
    }
    return Topology(code_locations=tasks, nat=nat, efs=efs, public_task_ips=not nat)


def markdown(lines: list[Line]) -> str:
    rows = ["| component | item | USD/month | after free tier |", "| --- | --- | ---: | ---: |"]
    rows += [
        f"| {x.component} | {x.item} | {x.monthly:.2f} | {x.after_free_tier:.2f} |" for x in lines
    ]
    before, after = totals(lines)
    rows.append(f"| **total** | | **{before:.2f}** | **{after:.2f}** |")
    return "\n".join(rows)
