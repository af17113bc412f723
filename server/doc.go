/*
Package server embeds tether's reference broker in a Go program: the same
broker that cmd/refbroker runs, configured with the same YAML.

A broker is started from a [Config] (from [Default], [LoadConfig] or
[ParseConfig]; field names follow activemq.xml) and stopped with
[Server.Close]. [Start] returns once the broker serves, that is once it
holds the master lock: on its data directory (shared-store master/slave) or
the lease row of its PostgreSQL database (persistenceAdapter.jdbc). While
another broker holds the lock, Start waits as a slave ([RoleSlave], admin
port open, no client port) until the master goes or ctx ends.
[Server.Fenced] is closed when a master loses its lock and stops serving.

Each transport connector URI opens one listener:

	stomp://127.0.0.1:61613      STOMP 1.0-1.2 (also tcp://, the SDK's default scheme)
	amqp://127.0.0.1:5672        AMQP 1.0
	mqtt://127.0.0.1:1883        MQTT 3.1 and 3.1.1
	ws://127.0.0.1:61614         STOMP and MQTT over WebSocket
	ssl://, stomp+ssl://, amqp+ssl://, mqtt+ssl://, wss://   the same over TLS (Config.SSLContext)

with ActiveMQ's URI options (maximumConnections, wireFormat.maxFrameSize,
transport.* keep-alive settings). Network connectors (package
[github.com/tethermq/tether/server/network]) bridge the broker to others.

Everything a running broker shows (destinations, connections, bridges, the
store) is served on its admin HTTP port as a console, a JSON API and
Prometheus metrics: see docs/admin.md. The broker's core, store, lockers and
protocol connectors are in server/internal: they are not API, and change
without notice.
*/
package server
