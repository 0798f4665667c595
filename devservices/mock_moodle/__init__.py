"""A mock Moodle: a small LTI platform that signs real LTI 1.1 and LTI 1.3 launches.

Run `python -m mock_moodle --config FILE --port N` and open the printed URL in a browser; tests use
`service_fixtures` (pytest fixtures) or `mock_moodle.server` directly.
"""
