"""The directory put first on sys.path for Horizon: its `local` package shadows Horizon's own
`openstack_dashboard/local`, which openstack_dashboard.settings imports as `local.local_settings`
(it appends its own directory at the end of sys.path). Nothing is written into Horizon."""
