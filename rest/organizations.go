package rest

import (
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// The dropdown routes (Make's remote procedures) return every item unless
// the client asks for a page (page and/or per_page, 10..100, default 100).
const (
	dropdownPerPage  = 100
	dropdownMaxItems = assistloop.MaxOrganizationsN
)

// organizationsRoute: GET /my/organizations, the caller's workspaces.
var organizationsRoute = &route{
	method:  http.MethodGet,
	pattern: "/my/organizations",
	document: `query RestOrganizations($first: Int!, $offset: Int!) {
  organizations(first: $first, offset: $offset) {
    nodes { uuid name }
    pageInfo { hasNextPage }
  }
}`,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		out := []organization{}
		err := walk(q, func(first, offset int) (bool, error) {
			var data struct {
				Organizations struct {
					Nodes    []node   `json:"nodes"`
					PageInfo pageInfo `json:"pageInfo"`
				} `json:"organizations"`
			}
			if err := x.run(map[string]any{"first": first, "offset": offset}, &data); err != nil {
				return false, err
			}
			for _, n := range data.Organizations.Nodes {
				out = append(out, organization{OrganizationUUID: n.UUID, ID: n.UUID, Name: n.Name})
			}
			return data.Organizations.PageInfo.HasNextPage, nil
		})
		return out, err
	},
}

type organization struct {
	OrganizationUUID string `json:"organization_uuid"`
	ID               string `json:"id"`
	Name             string `json:"name"`
}

// agentsRoute: GET /organizations/{organization_uuid}/agents, a workspace's
// agents.
var agentsRoute = &route{
	method:  http.MethodGet,
	pattern: "/organizations/{organization_uuid}/agents",
	document: `query RestAgents($organizationUuid: ID!, $first: Int!, $offset: Int!) {
  organization(uuid: $organizationUuid) {
    agents(first: $first, offset: $offset) {
      nodes { uuid name }
      pageInfo { hasNextPage }
    }
  }
}`,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		out := []agent{}
		err := walk(q, func(first, offset int) (bool, error) {
			var data struct {
				Organization struct {
					Agents struct {
						Nodes    []node   `json:"nodes"`
						PageInfo pageInfo `json:"pageInfo"`
					} `json:"agents"`
				} `json:"organization"`
			}
			vars := map[string]any{"organizationUuid": x.pathParam("organization_uuid"), "first": first, "offset": offset}
			if err := x.run(vars, &data); err != nil {
				return false, err
			}
			for _, n := range data.Organization.Agents.Nodes {
				out = append(out, agent{AgentUUID: n.UUID, ID: n.UUID, Name: n.Name})
			}
			return data.Organization.Agents.PageInfo.HasNextPage, nil
		})
		return out, err
	},
}

type agent struct {
	AgentUUID string `json:"agent_uuid"`
	ID        string `json:"id"`
	Name      string `json:"name"`
}

type node struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
}

type pageInfo struct {
	HasNextPage bool `json:"hasNextPage"`
}

// walk fetches the page the client asked for, or, when it asked for none,
// every page (up to dropdownMaxItems items) so a dropdown lists everything.
// fetch returns whether more pages follow.
func walk(q *queryParams, fetch func(first, offset int) (bool, error)) error {
	paged := q.paged()
	p := q.pagination(dropdownPerPage)
	if err := q.err(); err != nil {
		return err
	}
	if paged {
		_, err := fetch(p.perPage, p.offset())
		return err
	}
	for offset := 0; offset < dropdownMaxItems; offset += dropdownPerPage {
		more, err := fetch(dropdownPerPage, offset)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
