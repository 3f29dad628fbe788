package httpapi

// serviceRoutes returns the route lines of this group; org is the path prefix
// every organization-scoped route starts with.
func (s *Server) serviceRoutes(org string) []route {
	return nil
}
