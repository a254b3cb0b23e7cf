"""Client authentication as Apache ZooKeeper 3.8 does it: SASL (DIGEST-MD5) on the client ports
with the JAAS Server section, SASL super users, enforce.auth / sessionRequireClientSASLAuth."""
