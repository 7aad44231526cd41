package rest

import "net/http"

// meRoute: GET /oauth/me, the token's user. Make calls it to test a
// connection.
var meRoute = &route{
	method:  http.MethodGet,
	pattern: "/oauth/me",
	document: `query RestMe {
  viewer { user { uuid name email } }
}`,
	serve: func(x *exchange) (any, error) {
		var data struct {
			Viewer struct {
				User me `json:"user"`
			} `json:"viewer"`
		}
		if err := x.run(nil, &data); err != nil {
			return nil, err
		}
		return data.Viewer.User, nil
	},
}

type me struct {
	UUID  string `json:"uuid"`
	Name  string `json:"name"`
	Email string `json:"email"`
}
