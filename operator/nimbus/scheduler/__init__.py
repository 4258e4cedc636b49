"""The nimbus-scheduler: kube-scheduler, with Nova's filter scheduler as its extender."""
