"""Every size and count Shoal bounds, in one place (docs/security.md explains each).

Actors, the store's validation and the transport read these names; no other
module writes a limit as a literal. They are deliberately generous for real
use and small enough that no single request, object or connection can make a
process grow without bound.
"""

from __future__ import annotations

KiB = 1024
MiB = 1024 * KiB

# -- messages on the wire (ZMQ_MAXMSGSIZE per socket, checked by ZeroMQ before any byte is
#    buffered past the limit, the CURVE handshake included) -----------------------------------
JOIN_MESSAGE_BYTES = 64 * KiB        # the join socket: anyone may connect
CONTROL_MESSAGE_BYTES = 4 * MiB      # the control API (admin keys), as Swarm's 4 MiB gRPC limit
DISPATCHER_MESSAGE_BYTES = 4 * MiB   # node sessions, heartbeats, status batches
RAFT_API_MESSAGE_BYTES = 16 * MiB    # proposals and reads from the manager's own actors
RAFT_PEER_FRAME_BYTES = 2 * MiB      # one Raft message or one chunk of a large one
REPLY_MESSAGE_BYTES = 16 * MiB       # any reply or published change a client receives
TASK_DATA_BYTES = 8 * MiB            # the secrets and configs of one task, as a task_data reply carries them
CHANGES_INBOUND_BYTES = 64 * KiB     # what the change stream's PUB socket receives: subscriptions only
# A connection must finish its CURVE handshake within this (ZMQ_HANDSHAKE_IVL), or it is closed:
# a stranger cannot park half-open handshakes for long.
HANDSHAKE_MS = 5000

# A reply or published batch larger than this is sent as several parts of at most this size.
PAGE_BYTES = 1 * MiB
# A controller splits its decision's ops into proposals of at most this size (far below RAFT_API_MESSAGE_BYTES).
PROPOSAL_BYTES = 4 * MiB
# The most a store snapshot streamed to a view, or a list streamed to the CLI, may add up to.
STORE_BYTES = 512 * MiB

# -- store objects ---------------------------------------------------------------------------
OBJECT_BYTES = 1 * MiB               # one object of any table, encoded
# A service spec, encoded: a service holds its spec and the one before it (PreviousSpec) within OBJECT_BYTES.
SPEC_BYTES = 448 * KiB
BATCH_OPS = 1000                     # ops in one proposal; entries in one status request
STATUS_REPORTS_PER_REQUEST = 100     # what an executor sends at once: 100 of the largest statuses fit 4 MiB
# A secret's or config's data: Swarm's limit, data must be smaller (1 byte to SECRET_BYTES - 1).
SECRET_BYTES = 500 * KiB
NAME_CHARS = 63                      # service, secret, config, network names
ID_CHARS = 128                       # object ids, lease names, container ids
KEY_CHARS = 64                       # a CURVE public key (z85: 40 characters)
TOKEN_CHARS = 128                    # a join token (SWMTKN-1-<64 hex>-<25 characters>)
PATH_CHARS = 4096                    # a path in a container (a secret's or config's target: Linux's PATH_MAX)
HOSTNAME_CHARS = 253                 # a node's or container's hostname (DNS's limit)
LABELS = 1000                        # labels on one object (each map of labels)
LABEL_KEY_CHARS = 1024
LABEL_VALUE_CHARS = 4096
NETWORKS_PER_SERVICE = 64            # TaskTemplate.Networks of one service (a task's attachments: one more, ingress)
NETWORKS_PER_NODE = 1000             # a node's Attachments: ingress and each network of its tasks
NETWORK_ALIASES = 64                 # aliases of a service on one network
ADDRESS_POOLS = 32                   # CIDRs of the cluster's DefaultAddrPool
LIST_ITEMS = 1000                    # Env, Args, Command, ports ... entries of one list
STRING_CHARS = 32 * KiB              # any other string in a spec (one Env entry, one argument)
STATUS_MESSAGE_CHARS = 1024          # Status.Message of a task or node
STATUS_ERR_CHARS = 4096              # Status.Err of a task
REPLICAS = 100_000                   # Replicas of one service
COUNT = 2 ** 63 - 1                  # any other count or duration in nanoseconds (msgpack's signed 64 bits)

# -- service logs (docs/operations.md "Logs and events") -------------------------------------
LOG_LINES_PER_REPLY = 2000           # log lines one node sends for one request (more: the CLI asks again)
LOG_BYTES_PER_REPLY = 1 * MiB        # and at most this much text, so a reply stays far below DISPATCHER_MESSAGE_BYTES
LOG_LINE_CHARS = 16 * KiB            # one line, as Docker's log drivers split them
LOG_NODE_SECONDS = 3.0               # how long the control API waits for one node's logs before warning
LOG_TASKS_PER_REQUEST = 1000         # tasks whose logs one request asks for
EVENTS_KEPT = 10000                  # task and node transitions the control API remembers for ``shoal events``

# -- the CLI ---------------------------------------------------------------------------------
CLI_WAIT_SECONDS = 24 * 3600         # the longest --timeout a command waits for convergence

# -- hosts -----------------------------------------------------------------------------------
HOST_PORT_SPAN = 22                  # ports a host uses from its base port (hostconfig: sockets, metrics, shards' and shoald's metrics)

# -- work per decision -------------------------------------------------------------------------
TASKS_CREATED_PER_PASS = 10000       # tasks the orchestrator creates in one decision, then decides again;
SPEC_BYTES_CREATED_PER_PASS = 32 << 20  # and at most this much encoded task spec copied into them (large specs, fewer tasks)
