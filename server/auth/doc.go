// Package auth is the reference broker's security policy: who may connect
// (Users, checked by an Authenticator) and what they may do with which
// destination (Entries, applied by an Authorizer), modelled on ActiveMQ's
// simpleAuthenticationPlugin and authorizationPlugin so that an ActiveMQ
// configuration ports without surprises:
//
//   - a user has a password (clear, or a bcrypt hash) and groups;
//   - an entry names a queue or topic pattern with ActiveMQ's wildcards
//     ('.' separates, '*' is one element, '>' the rest) and the groups
//     allowed to read (consume, browse), write (send) and admin (create the
//     destination);
//   - entries are additive: a user may act on a destination when one of its
//     groups is listed by any entry matching it; no matching entry denies;
//     the group "everyone" (or ActiveMQ's "*") is every user.
//
// It knows nothing of wire protocols: connectors call Authenticate with the
// credentials they received, and the broker core asks Allowed through
// broker.AccessControl on every send and subscription.
package auth
