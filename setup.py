"""setuptools glue that pyproject.toml cannot express: the package list is *found*, never written
by hand (a hand list once left `probe.discovery` out of every wheel).

The design card keeps checks/, reports/ and profiles/ at the top of the repository; installed,
they live inside the probe package (probe.checks, probe.reports, probe.builtin_profiles) so that
nothing generic like "checks" lands in site-packages. find_packages() cannot follow that mapping,
so each mapped folder is searched on its own and prefixed. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

MAPPED = {"probe.checks": "checks", "probe.reports": "reports", "probe.builtin_profiles": "profiles"}

packages = find_packages(include=["probe", "probe.*"])
package_dir = {"probe": "probe"}
for name, folder in MAPPED.items():
    package_dir[name] = folder
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=package_dir)
