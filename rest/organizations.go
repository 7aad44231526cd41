package rest

import (
	"bytes"
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// The dropdown routes (Make's remote procedures) return every item unless
// the client asks for a page (page and/or per_page, 10..100, default 100).
const (
	dropdownPerPage  = 100
	dropdownMaxItems = assistloop.MaxOrganizationsN
)

// organizationsRoute: GET /my/organizations, the caller's workspaces:
// [{"organization_uuid","id","name"}].
var organizationsRoute = &route{
	method:  http.MethodGet,
	pattern: "/my/organizations",
	document: `query RestOrganizations($first: Int!, $offset: Int!) {
  organizations(first: $first, offset: $offset) {
    nodes { organization_uuid: uuid id: uuid name }
    pageInfo { hasNextPage }
  }
}`,
	serve: func(x *exchange) (any, error) {
		return walk(x, func(first, offset int) (map[string]any, []string) {
			return map[string]any{"first": first, "offset": offset}, []string{"organizations"}
		})
	},
}

// agentsRoute: GET /organizations/{organization_uuid}/agents, a workspace's
// agents: [{"agent_uuid","id","name"}].
var agentsRoute = &route{
	method:  http.MethodGet,
	pattern: "/organizations/{organization_uuid}/agents",
	document: `query RestAgents($organizationUuid: ID!, $first: Int!, $offset: Int!) {
  organization(uuid: $organizationUuid) {
    agents(first: $first, offset: $offset) {
      nodes { agent_uuid: uuid id: uuid name }
      pageInfo { hasNextPage }
    }
  }
}`,
	serve: func(x *exchange) (any, error) {
		org := x.pathParam("organization_uuid")
		return walk(x, func(first, offset int) (map[string]any, []string) {
			return map[string]any{"organizationUuid": org, "first": first, "offset": offset}, []string{"organization", "agents"}
		})
	},
}

// walk returns the page the client asked for, or, when it asked for none,
// every page (up to dropdownMaxItems items) so a dropdown lists everything.
// page gives the variables of a page and the path to its connection.
func walk(x *exchange, page func(first, offset int) (vars map[string]any, connection []string)) (any, error) {
	q := x.query()
	paged := q.paged()
	p := q.pagination(dropdownPerPage)
	if err := q.err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('[')
	fetch := func(first, offset int) (more bool, err error) {
		vars, path := page(first, offset)
		data, err := x.run(vars)
		if err != nil {
			return false, err
		}
		conn, err := at(data, path...)
		if err != nil {
			return false, err
		}
		nodes, err := at(conn, "nodes")
		if err != nil {
			return false, err
		}
		if err := (rewrite{}).list(&b, nodes, b.Len() == 1); err != nil {
			return false, err
		}
		next, err := at(conn, "pageInfo", "hasNextPage")
		return string(next) == "true", err
	}
	if paged {
		if _, err := fetch(p.perPage, p.offset()); err != nil {
			return nil, err
		}
	} else {
		for offset := 0; offset < dropdownMaxItems; offset += dropdownPerPage {
			more, err := fetch(dropdownPerPage, offset)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
	}
	b.WriteString("]\n")
	return rawJSON(b.Bytes()), nil
}
