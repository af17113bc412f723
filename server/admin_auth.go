package server

import (
	"net/http"
	"slices"
)

// AdminGroup is the group whose users may use the admin port's API when
// users are configured (ActiveMQ's console role of the same name).
const AdminGroup = "admins"

// guardAdmin puts the admin port's policy in front of its handlers:
//
//   - /healthz stays open, for load balancers and probes;
//   - with users configured, everything else needs HTTP basic credentials of
//     a user in the admins group (401 without or with bad ones, after the
//     same failure delay as a protocol login; 403 for other users);
//   - state-changing methods are refused when a browser says the request is
//     cross-origin (Sec-Fetch-Site, Origin), so that a page on another site
//     cannot drive the API with an operator's cached credentials (CSRF).
//     GET never changes anything: the mux only routes POST to mutations.
func (s *Server) guardAdmin(next http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection()
	guarded := csrf.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		if s.authn != nil {
			user, pass, ok := r.BasicAuth()
			if !ok || s.authn.Authenticate(user, pass) != nil {
				w.Header().Set("WWW-Authenticate", `Basic realm="tether admin", charset="UTF-8"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			if !slices.Contains(s.authn.Groups(user), AdminGroup) {
				s.log.Warn("admin API refused: user is not in the admins group", "user", user, "path", r.URL.Path)
				http.Error(w, "forbidden: user "+user+" is not in the "+AdminGroup+" group", http.StatusForbidden)
				return
			}
		}
		guarded.ServeHTTP(w, r)
	})
}
