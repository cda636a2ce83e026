"""Sphinx configuration for the nova-lxd documentation.

The configuration reference comes from the options themselves (oslo.config's
``show-options`` directive, through the ``oslo.config.opts`` entry point),
the support matrix from the driver class and the last tempest summary
(``nova_lxd.aio.support_matrix``), the release notes from reno.
"""
import json
import os

from nova_lxd.aio import support_matrix

HERE = os.path.dirname(os.path.abspath(__file__))

project = 'nova-lxd'
copyright = 'nova-lxd developers'
extensions = ['oslo_config.sphinxext', 'reno.sphinxext']
exclude_patterns = ['_generated/*']
html_theme = 'alabaster'
html_static_path = []
# The pages are made to be read on their own too (README points at them).
master_doc = 'index'


def _write_support_matrix(app):
    """Render the generated part of support-matrix.rst before reading."""
    with open(os.path.join(HERE, 'data', 'tempest-summary.json'),
              encoding='utf-8') as f:
        summary = json.load(f)
    os.makedirs(os.path.join(HERE, '_generated'), exist_ok=True)
    body = support_matrix.rst(summary)
    with open(os.path.join(HERE, '_generated', 'support-matrix.inc'), 'w',
              encoding='utf-8') as f:
        f.write(body)


def setup(app):
    app.connect('builder-inited', _write_support_matrix)
