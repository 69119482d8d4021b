"""The ground floor: small helpers every other floor may use and that know nothing of networks.

``atomic`` writes files so that a crash never leaves half of one, ``yamlfile`` reads a YAML
mapping with errors that name the file, ``registry`` resolves names like ``"relu"`` to classes
and lists the valid ones when a name is unknown. Imports nothing else from chainrule.
"""
