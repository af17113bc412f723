// Package admin serves a broker's operator interface on the admin HTTP
// port: server-rendered console pages (html/template, assets embedded, no
// JavaScript), the JSON API the console and `tether admin` use, and the
// Prometheus /metrics endpoint.
//
// It reads the broker through its inspection methods (broker/inspect.go)
// and the server through a Source of functions, so that it never imports
// package server. It does not authenticate: the server puts its admin
// policy (admins group, cross-origin refusal) in front of the Handler. It
// adds, for the console's forms, a CSRF token bound to the user, and a
// confirmation page before every action.
package admin
