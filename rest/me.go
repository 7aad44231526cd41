package rest

import (
	"net/http"
	"slices"
)

// meRoute: GET /oauth/me, the token's user. Make calls it to test a
// connection.
var meRoute = &route{
	method:  http.MethodGet,
	pattern: "/oauth/me",
	document: `query RestMe {
  viewer { user { uuid name email } }
}`,
	serve: func(x *exchange) (any, error) {
		data, err := x.run(nil)
		if err != nil {
			return nil, err
		}
		user, err := at(data, "viewer", "user")
		if err != nil {
			return nil, err
		}
		return rawJSON(slices.Concat(user, []byte("\n"))), nil
	},
}
