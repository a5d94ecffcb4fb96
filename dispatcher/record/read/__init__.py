"""The read side: every query of the projection tables the record agent writes (`requests`,
`offers`, `assignments`, `event_log`, `request_private`, `helpers`), one module per reader.

Each function takes a connection or pool and returns typed rows; callers (API pages, ops
dashboard and reports, the simulator, benches) hold no SQL of these tables. The API's own
tables live in `dispatcher.record.edge`.
"""
