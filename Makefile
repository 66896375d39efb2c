# The two commands of the README: `make dev` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := $(wildcard fastmango tests examples tools)

.PHONY: dev test lint typecheck admin bench bench-orm bench-tasks bench-startup bench-devtools bench-monitoring clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

dev: $(STAMP)  ## migrate and seed examples/blog on SQLite, then serve it at http://127.0.0.1:8000 with hot reload
	cd examples/blog && ../../$(BIN)/fastmango migrate && ../../$(BIN)/python -m blog.seed && ../../$(BIN)/fastmango dev

admin:  ## rebuild the admin UI (Vue sources in fastmango/admin/frontend) into fastmango/admin/static, which is committed
	cd fastmango/admin/frontend && npm ci --no-audit --no-fund && npm run build

bench: $(STAMP)  ## HTTP benchmark: fastmango vs FastAPI+SQLAlchemy, DRF, Ninja and the asyncpg floor (~13 min, needs wrk); writes tools/bench/RESULTS.md
	$(BIN)/python -m tools.bench.http --output tools/bench/RESULTS.md

bench-tasks: $(STAMP)  ## the task queue benchmark (arq, one worker, needs Redis); writes tools/bench/TASKS_RESULTS.md
	$(BIN)/python -m tools.bench.tasks --output tools/bench/TASKS_RESULTS.md

bench-orm: $(STAMP)  ## the ORM micro-benchmark (SQLite and PostgreSQL); writes tools/bench/ORM_RESULTS.md
	$(BIN)/python -m tools.bench.orm --output tools/bench/ORM_RESULTS.md

bench-startup: $(STAMP)  ## seconds to the first 200 of a fresh project: dev, dev --no-reload, uvicorn (~2 min; BASELINE=<checkout> adds its rows); writes tools/bench/STARTUP_RESULTS.md
	$(BIN)/python -m tools.bench.startup $(if $(BASELINE),--baseline $(BASELINE)) --output tools/bench/STARTUP_RESULTS.md

bench-devtools: $(STAMP)  ## what the debug panel's recording costs a request: plugin absent / off / on (~4 min, needs wrk and PostgreSQL); writes tools/bench/DEVTOOLS_RESULTS.md
	$(BIN)/python -m tools.bench.overhead --suite devtools --output tools/bench/DEVTOOLS_RESULTS.md

bench-monitoring: $(STAMP)  ## what metrics and the live log stream cost a request, in prod: plugin absent / off / metrics / all, and metrics+redis with REDIS_URL=<url> (~5 min, ~6 with Redis; needs wrk and PostgreSQL); writes tools/bench/MONITORING_RESULTS.md
	$(BIN)/python -m tools.bench.overhead --suite monitoring $(if $(REDIS_URL),--redis-url $(REDIS_URL)) --output tools/bench/MONITORING_RESULTS.md

# The suite waits on servers and subprocesses more than it computes: 4 workers on 2 cores take it from ~23 to ~8
# minutes. loadfile keeps a module's tests on one worker, so its module-scoped servers start once.
TEST_WORKERS ?= 4

test: $(STAMP) lint typecheck  ## the whole suite on TEST_WORKERS pytest-xdist workers, lint and type check included
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
