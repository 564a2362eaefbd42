CREATE {% if unique %}UNIQUE {% endif %}INDEX {{ name }} ON {{ table }} ({{ columns }});
