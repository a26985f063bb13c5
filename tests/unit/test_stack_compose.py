"""Loading compose files: YAML with lines, interpolation, extension fields and anchors, checks naming the
file, line and key, the merge of several files, and what docker reports as ignored."""

from __future__ import annotations

import pytest

from actors.stack import interpolation, yamlfile
from actors.stack.errors import ComposeError
from tests.unit.stackfiles import IMAGE, load


def test_interpolation_forms_of_the_compose_specification():
    environ = {"SET": "x", "EMPTY": ""}
    unset = set()
    cases = {"$SET": "x", "${SET}": "x", "${UNSET:-d}": "d", "${EMPTY:-d}": "d", "${EMPTY-d}": "", "${UNSET-d}": "d",
             "${SET:+alt}": "alt", "${UNSET+alt}": "", "a$$b": "a$b", "${UNSET:-${SET}y}": "xy", "pre-${SET}-post": "pre-x-post",
             "$$SET": "$SET", "${UNSET}": ""}
    for template, expected in cases.items():
        assert interpolation.substitute(template, environ, unset) == expected, template
    assert unset == {"UNSET"}


@pytest.mark.parametrize("template, message", [
    ("${EMPTY:?needs a value}", "required variable EMPTY is missing a value: needs a value"),
    ("${UNSET?}", "required variable UNSET is missing a value"),
    ("${SET", "is never closed"), ("${}", "must start with a variable name"),
    ("$1", "write $$ for a '$'"), ("${SET!}", "unknown operator")])
def test_interpolation_errors(template, message):
    with pytest.raises(interpolation.TemplateError, match=message.replace("$", r"\$").replace("?", r"\?")):
        interpolation.substitute(template, {"SET": "x", "EMPTY": ""}, set())


def test_dot_env_then_environment_fill_variables_and_unset_ones_warn(tmp_path):
    project = load(tmp_path, {".env": "# settings\nTAG=from-env-file\nexport REPLICAS=3\nQUOTED='a b # c'\n",
                              "stack.yml": """
        services:
          web:
            image: ${IMAGE}
            environment:
              TAG: ${TAG}
              QUOTED: ${QUOTED}
              MISSING: ${NOPE}
              PRICE: $$5
            deploy:
              replicas: ${REPLICAS}
        """}, {"IMAGE": IMAGE, "TAG": "from-shell"})
    web = project.config["services"]["web"]
    assert web["image"] == IMAGE
    assert web["environment"] == {"TAG": "from-shell", "QUOTED": "a b # c", "MISSING": "", "PRICE": "$5"}
    assert web["deploy"]["replicas"] == 3
    assert project.warnings() == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_template_errors_never_quote_the_value(tmp_path):
    with pytest.raises(ComposeError) as error:
        load(tmp_path, {"stack.yml": f"services:\n  web:\n    image: {IMAGE}\n    environment:\n      PW: hunter$2\n"})
    assert str(error.value) == (f"{tmp_path}/stack.yml:5: services.web.environment.PW: invalid template: a '$' must "
                                "start a variable (write $$ for a '$')")


def test_required_variable_error_names_file_line_and_key(tmp_path):
    with pytest.raises(ComposeError) as error:
        load(tmp_path, {"stack.yml": f"""
            services:
              web:
                image: {IMAGE}
                environment:
                  - PASSWORD=${{DB_PASSWORD:?set DB_PASSWORD}}
            """})
    assert str(error.value) == (f"{tmp_path}/stack.yml:6: services.web.environment.0: required variable DB_PASSWORD "
                                "is missing a value: set DB_PASSWORD")


def test_extension_fields_anchors_and_merge_keys(tmp_path):
    project = load(tmp_path, {"stack.yml": f"""
        version: "3.8"
        x-common: &common
          image: {IMAGE}
          environment: &env
            LOG: debug
          deploy:
            restart_policy:
              condition: on-failure
        services:
          a:
            <<: *common
            x-note: extension fields are dropped
          b:
            <<: *common
            environment:
              <<: *env
              EXTRA: "1"
        """})
    services = project.config["services"]
    assert services["a"]["image"] == services["b"]["image"] == IMAGE
    assert services["a"]["environment"] == {"LOG": "debug"}
    assert services["b"]["environment"] == {"LOG": "debug", "EXTRA": "1"}
    assert services["a"]["deploy"]["restart_policy"] == {"condition": "on-failure"}


@pytest.mark.parametrize("text, message", [
    ("services:\n  web:\n    image: x\n    colour: blue\n", "stack.yml:4: services.web.colour: additional property colour is not allowed"),
    ("services:\n  web:\n    image: x\n    deploy:\n      replicas: many\n",
     "stack.yml:5: services.web.deploy.replicas: must be a whole number >= 0, not 'many'"),
    ("services:\n  web:\n    image: x\n    ports:\n      - 80\n      - 127.0.0.1:80:80\n",
     "stack.yml:6: services.web.ports.1: invalid port '127.0.0.1:80:80': a host address is not supported"),
    ("services:\n  web:\n    image: x\n  web:\n    image: y\n", "stack.yml:4: invalid YAML: mapping key 'web' already defined at line 2"),
    ("services:\n  web:\n    image: [x\n", "stack.yml:4: invalid YAML"),
    ("version: '2.4'\nservices: {}\n", "stack.yml:1: version: unsupported Compose file version: 2.4"),
    ("services:\n  web:\n    image: x\n    extends: base\n", "services.web.extends: unsupported option: Support for `extends`"),
    ("services:\n  web:\n    image: x\n    logging:\n      driver: syslog\n",
     "stack.yml:4: services.web.logging: not supported: Shoal's tasks log to the engine's default driver"),
    ("services:\n  web:\n    image: x\n    deploy:\n      resources:\n        reservations:\n          devices: []\n",
     "services.web.deploy.resources.reservations.devices: not supported"),
    ("services:\n  web:\n    image: x\n    deploy:\n      mode: daemon\n", "must be one of replicated, global"),
    ("services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD]\n      disable: true\n",
     "test and disable can't be set at the same time"),
    ("services:\n  web:\n    image: x\nnetworks:\n  front:\n    driver: bridge\n",
     "stack.yml:6: networks.front.driver: network driver 'bridge' is not supported"),
    ("services:\n  web:\n    image: x\nnetworks:\n  front:\n    attachable: true\n", "networks.front.attachable: not supported"),
    ("services:\n  web:\n    image: x\nsecrets:\n  pw: {}\n", "stack.yml:5: secrets.pw: a secret needs exactly one of file"),
    ("services:\n  web:\n    image: x\nsecrets:\n  pw:\n    file: ./missing.txt\n", "secrets.pw.file: cannot read secret file"),
    ("services:\n  web:\n    image: x\n    volumes:\n      - data:relative\n", "invalid mount target 'relative'"),
    ("networks: {}\n", "no services to deploy"),
    ("services:\n  web:\n    image: x\n    ports:\n      - {target: 80, app_protocol: http}\n",
     "stack.yml:5: services.web.ports.0.app_protocol: not supported"),
    ("services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: /srv\n        target: /srv\n"
     "        bind: {create_host_path: true}\n", "services.web.volumes.0.bind.create_host_path: not supported"),
    ("services:\n  web:\n    image: x\nconfigs:\n  empty:\n    content: ''\n",
     "stack.yml:6: configs.empty.content: config data must be larger than 0 and less than 512000 bytes (it has 0)"),
    ("- just\n- a list\n", "stack.yml:1: a compose file must be a map"),
])
def test_invalid_files_name_the_key_and_line(tmp_path, text, message):
    with pytest.raises(ComposeError) as error:
        load(tmp_path, {"stack.yml": text})
    assert message in str(error.value)


def test_yaml_numbers_are_yaml_1_2_and_dates_stay_text():
    data, positions = yamlfile.load("ports: [22:22, '80']\nmode: 0440\nlabel: 2024-01-01\n", "f.yml")
    assert data == {"ports": ["22:22", "80"], "mode": 0o440, "label": "2024-01-01"}
    assert positions.where(("ports", 1)) == "f.yml:1: " and positions.where(("label",)) == "f.yml:3: "


def test_ignored_and_deprecated_keys_are_reported_as_docker_reports_them(tmp_path):
    project = load(tmp_path, {"stack.yml": f"""
        name: shop
        services:
          web:
            image: {IMAGE}
            build: .
            depends_on: [db]
            container_name: web1
            restart: always
            deploy:
              restart_policy:
                condition: any
          db:
            image: {IMAGE}
            links: [web]
            expose: ["5432"]
        """})
    assert project.warnings() == [
        "Ignoring unsupported options: build, depends_on, links, name, restart\n",
        "Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.\n"
        "expose: Exposing ports is unnecessary - services on the same network can access each other's containers "
        "on any port.\n"]


def test_several_files_merge_as_docker_merges_them(tmp_path):
    project = load(tmp_path, {"base.yml": f"""
        services:
          web:
            image: {IMAGE}
            command: ["sleep", "1000"]
            environment: [A=1, B=2]
            ports: ["8080:80", "9090:90"]
            volumes: ["data:/data", "/tmp:/host-tmp:ro"]
            deploy:
              replicas: 1
              labels: {{tier: web}}
        volumes:
          data:
        """, "override.yml": """
        services:
          web:
            command: sleep 5
            environment:
              B: "3"
              C: "4"
            ports:
              - target: 90
                published: 9090
                mode: host
            volumes: ["other:/data"]
            deploy:
              replicas: 3
              labels: {owner: ops}
        volumes:
          other:
            external: true
        """})
    web = project.config["services"]["web"]
    assert web["command"] == ["sleep", "5"]
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert {(p["PublishedPort"], p["TargetPort"], p["PublishMode"]) for p in web["ports"]} == {
        (8080, 80, "ingress"), (9090, 90, "ingress"), (9090, 90, "host")}
    assert [(m["Source"], m["Target"]) for m in web["volumes"]] == [("/tmp", "/host-tmp"), ("other", "/data")]
    assert web["deploy"]["replicas"] == 3 and web["deploy"]["labels"] == {"tier": "web", "owner": "ops"}
    assert set(project.config["volumes"]) == {"data", "other"}


def test_env_file_relative_to_the_project_and_environment_wins(tmp_path):
    project = load(tmp_path, {"web.env": "# comment\nA=from-file\nB=from-file\nHOME_ONLY\n", "stack.yml": f"""
        services:
          web:
            image: {IMAGE}
            env_file: web.env
            environment:
              B: from-environment
              FROM_SHELL:
        """}, {"HOME_ONLY": "h", "FROM_SHELL": "s"})
    assert project.config["services"]["web"]["environment"] == {
        "A": "from-file", "B": "from-environment", "HOME_ONLY": "h", "FROM_SHELL": "s"}


def test_port_and_volume_short_syntax(tmp_path):
    project = load(tmp_path, {"stack.yml": f"""
        services:
          web:
            image: {IMAGE}
            ports: [80, "8000-8001:9000-9001/udp", 22:22]
            volumes:
              - /anonymous
              - ./conf:/etc/conf:ro,rshared
              - cache:/cache:nocopy
              - type: tmpfs
                target: /scratch
                tmpfs: {{size: 64m, mode: 01777}}
        volumes:
          cache:
        """})
    web = project.config["services"]["web"]
    assert [(p["PublishedPort"], p["TargetPort"], p["Protocol"]) for p in web["ports"]] == [
        (0, 80, "tcp"), (8000, 9000, "udp"), (8001, 9001, "udp"), (22, 22, "tcp")]
    assert web["volumes"] == [
        {"Type": "volume", "Target": "/anonymous"},
        {"Type": "bind", "Source": f"{tmp_path}/conf", "Target": "/etc/conf", "ReadOnly": True,
         "BindOptions": {"Propagation": "rshared"}},
        {"Type": "volume", "Source": "cache", "Target": "/cache", "VolumeOptions": {"NoCopy": True}},
        {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1777}}]


def test_dot_env_values_use_the_lines_above_and_the_environment():
    variables = interpolation.parse_env_file(
        "HOST=db\nURL=postgres://${HOST}:${PORT:-5432}/app\nRAW='${HOST}'\nQUOTED=\"a ${HOST}\"\nHOME_DIR=$HOME/x # note\n",
        ".env", {"HOME": "/root"})
    assert variables == {"HOST": "db", "URL": "postgres://db:5432/app", "RAW": "${HOST}", "QUOTED": "a db",
                         "HOME_DIR": "/root/x"}
    with pytest.raises(ComposeError, match=r"^\.env:1: PW: invalid template: a '\$' must start a variable"):
        interpolation.parse_env_file("PW=pa$1word\n", ".env", {})
    with pytest.raises(ComposeError, match=r"^\.env:2: expected KEY=VALUE$"):
        interpolation.parse_env_file("A=1\nsecret-looking line\n", ".env", {})
